/**
 * An SMTP client session for sending mail: the prober, benchmarks and tests submit through it.
 * One message at a time; every reply is returned to the caller, who decides what a refusal means.
 */
import type { SmtpReply } from '../smtp-reply.ts';
import { openConnection, type Connection } from './connection.ts';
import { DEFAULT_STEP_TIMEOUT_MS } from './dialog.ts';
import { readSmtpReply } from './smtp.ts';

export interface SmtpSessionOptions {
  host: string;
  port: number;
  heloName?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Envelope {
  from: string;
  to: readonly string[];
  /** The message, header and body, lines separated by CRLF or LF; dot-stuffed on the way out. */
  data: string;
}

export interface SendResult {
  mail: SmtpReply;
  rcpt: SmtpReply[];
  /** The reply to the end of DATA; absent when no recipient was accepted. */
  data?: SmtpReply;
}

export interface SmtpSession {
  capabilities: readonly string[];
  /** AUTH PLAIN; resolves with the reply (235 on success). */
  authPlain(user: string, password: string): Promise<SmtpReply>;
  send(envelope: Envelope): Promise<SendResult>;
  /** Any command and its reply (RSET, NOOP, VRFY …). */
  command(line: string): Promise<SmtpReply>;
  quit(): Promise<void>;
}

const ADDRESS = /^[^\s<>]*$/;

function stuff(data: string): string {
  const lines = data.replace(/\r?\n$/, '').split(/\r?\n/);
  return lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n') + '\r\n.';
}

export async function openSmtpSession(options: SmtpSessionOptions): Promise<SmtpSession> {
  const connection: Connection = await openConnection({
    host: options.host,
    port: options.port,
    timeoutMs: options.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
    signal: options.signal,
  });
  const command = (line: string) => connection.exchange(line.split(' ')[0]?.toLowerCase() ?? 'command', line, readSmtpReply);
  try {
    const banner = await connection.exchange('banner', undefined, readSmtpReply);
    if (banner.code !== 220) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'banner', `expected 220, got ${banner.code}`, { replyCode: banner.code });
    const hello = await command(`EHLO ${options.heloName ?? 'localhost'}`);
    if (hello.code !== 250) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'ehlo', `expected 250, got ${hello.code}`, { replyCode: hello.code });
    return {
      capabilities: hello.lines.slice(1),
      authPlain: (user, password) => command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`),
      async send(envelope) {
        for (const a of [envelope.from, ...envelope.to]) {
          if (!ADDRESS.test(a)) throw connection.error('PROTOCOL_INVALID_OPTION', 'mail', `not an address: ${JSON.stringify(a)}`);
        }
        const mail = await command(`MAIL FROM:<${envelope.from}>`);
        if (mail.code !== 250) return { mail, rcpt: [] };
        const rcpt: SmtpReply[] = [];
        for (const to of envelope.to) rcpt.push(await command(`RCPT TO:<${to}>`));
        if (!rcpt.some((r) => r.code === 250)) {
          await command('RSET');
          return { mail, rcpt };
        }
        const go = await command('DATA');
        if (go.code !== 354) return { mail, rcpt, data: go };
        const data = await connection.exchange('data', stuff(envelope.data), readSmtpReply);
        return { mail, rcpt, data };
      },
      command,
      async quit() {
        try {
          await command('QUIT');
        } catch {
          // the peer may hang up first
        } finally {
          connection.destroy();
        }
      },
    };
  } catch (err) {
    connection.destroy();
    throw err;
  }
}
