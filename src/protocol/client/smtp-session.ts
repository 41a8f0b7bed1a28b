/**
 * An SMTP client session for sending mail: the prober, benchmarks and tests submit through it.
 * One message at a time; every reply is returned to the caller, who decides what a refusal means.
 * With `tls` the session is on TLS before it returns (implicit TLS, or STARTTLS and EHLO again).
 */
import type { SmtpReply } from '../smtp-reply.ts';
import { helloCapabilities } from '../smtp-reply.ts';
import type { Connection } from './connection.ts';
import { checkAuthOverTls, checkOption, connectDialog, type DialogOptions } from './dialog.ts';
import { expectCode, HELO_NAME, readSmtpReply, startTlsAfterHello } from './smtp.ts';
import type { TlsDetail } from './tls.ts';

export interface SmtpSessionOptions extends DialogOptions {
  /** Name sent with EHLO. Default `localhost`. */
  heloName?: string;
  /**
   * Let AUTH send credentials without TLS. Default false: `authPlain` on a plaintext session rejects
   * with `PROTOCOL_AUTH_WITHOUT_TLS` before anything is sent. Only for testing a server's refusal.
   */
  allowPlaintextAuth?: boolean;
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
  /** From the last EHLO (after STARTTLS, the one on TLS). */
  capabilities: readonly string[];
  /** The TLS session; undefined on plaintext. */
  tls: TlsDetail | undefined;
  /** AUTH PLAIN (RFC 4616) on TLS; resolves with the reply (235 on success). */
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
  const heloName = options.heloName ?? 'localhost';
  checkOption(options, 'heloName', heloName, HELO_NAME);
  const connection: Connection = await connectDialog(options);
  const command = (line: string) => connection.exchange(line.split(' ')[0]?.toLowerCase() ?? 'command', line, readSmtpReply);
  try {
    expectCode(connection, 'banner', await connection.exchange('banner', undefined, readSmtpReply), 220);
    const ehlo = `EHLO ${heloName}`;
    let hello = expectCode(connection, 'ehlo', await command(ehlo), 250);
    if (options.tls?.mode === 'starttls') hello = await startTlsAfterHello(connection, hello, ehlo, options.tls);
    return {
      capabilities: helloCapabilities(hello),
      tls: connection.tls,
      async authPlain(user, password) {
        checkAuthOverTls(connection, 'auth', options.allowPlaintextAuth);
        if (`${user}${password}`.includes('\0')) throw connection.error('PROTOCOL_INVALID_OPTION', 'auth', 'user and password must not contain NUL');
        return connection.exchange('auth', `AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`, readSmtpReply);
      },
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
      quit: () => connection.close(() => command('QUIT')),
    };
  } catch (err) {
    connection.destroy();
    throw err;
  }
}
