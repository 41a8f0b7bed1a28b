/** SMTP and LMTP readiness dialogs: banner, EHLO or LHLO (with STARTTLS and EHLO again when asked), QUIT. */
import { createSmtpReplyParser, helloCapabilities, type SmtpReply } from '../smtp-reply.ts';
import type { Connection, StepReader } from './connection.ts';
import { checkOption, runDialog, sayGoodbye, type DialogOptions, type DialogResult } from './dialog.ts';
import type { TlsClientOptions, TlsDetail } from './tls.ts';

export interface HelloOptions extends DialogOptions {
  /** Name sent with EHLO or LHLO: a domain or an address literal (`[127.0.0.1]`). Default `localhost`. */
  readonly heloName?: string;
}

export interface HelloDetail {
  /** The 220 greeting (can be multi-line, as postscreen sends it). */
  readonly banner: SmtpReply;
  /** The 250 answer to EHLO or LHLO (after STARTTLS: to the second one). */
  readonly hello: SmtpReply;
  /** Extension lines of the hello reply, e.g. `PIPELINING`, `SIZE 10240000`, `STARTTLS`. */
  readonly capabilities: readonly string[];
  /** The TLS session, when `tls` was asked for. */
  readonly tls?: TlsDetail;
}

export const HELO_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[A-Za-z0-9:.]+\])$/;

/** Reads banner (220), sends EHLO (expects 250), then QUIT. */
export function smtpEhlo(options: HelloOptions): Promise<DialogResult<HelloDetail>> {
  return helloDialog(options, 'EHLO');
}

/** Reads the LMTP banner (220), sends LHLO (expects 250), then QUIT. */
export function lmtpLhlo(options: HelloOptions): Promise<DialogResult<HelloDetail>> {
  return helloDialog(options, 'LHLO');
}

/** Reads one SMTP/LMTP reply, however many lines it has. */
export const readSmtpReply: StepReader<SmtpReply> = async (nextLine) => {
  const parser = createSmtpReplyParser();
  for (;;) {
    const result = parser.push(await nextLine());
    if (result !== undefined) return result;
  }
};

/**
 * STARTTLS (RFC 3207) after a successful EHLO: the extension must be offered and the command
 * answered 220; then the handshake, and EHLO again, since what was said in plaintext is void.
 * Returns the second hello reply.
 */
export async function startTlsAfterHello(connection: Connection, hello: SmtpReply, helloCommand: string, tls: TlsClientOptions): Promise<SmtpReply> {
  if (!helloCapabilities(hello).some((line) => /^STARTTLS$/i.test(line))) {
    throw connection.error('PROTOCOL_TLS_UNAVAILABLE', 'starttls', 'the server does not offer STARTTLS', { reply: describe(hello) });
  }
  const go = await connection.exchange('starttls', 'STARTTLS', readSmtpReply);
  if (go.code !== 220) {
    throw connection.error('PROTOCOL_TLS_UNAVAILABLE', 'starttls', `STARTTLS refused with ${go.code}`, { replyCode: go.code, reply: describe(go) });
  }
  await connection.startTls('tls', tls);
  const step = helloCommand.split(' ')[0]?.toLowerCase() ?? 'ehlo';
  return expectCode(connection, step, await connection.exchange(step, helloCommand, readSmtpReply), 250);
}

async function helloDialog(options: HelloOptions, verb: 'EHLO' | 'LHLO'): Promise<DialogResult<HelloDetail>> {
  const heloName = options.heloName ?? 'localhost';
  checkOption(options, 'heloName', heloName, HELO_NAME);
  return runDialog(options, async (connection) => {
    const banner = expectCode(connection, 'banner', await connection.exchange('banner', undefined, readSmtpReply), 220);
    const step = verb.toLowerCase();
    const command = `${verb} ${heloName}`;
    let hello = expectCode(connection, step, await connection.exchange(step, command, readSmtpReply), 250);
    if (options.tls?.mode === 'starttls') hello = await startTlsAfterHello(connection, hello, command, options.tls);
    await sayGoodbye(connection, 'quit', 'QUIT', readSmtpReply);
    const detail = { banner, hello, capabilities: helloCapabilities(hello) };
    return connection.tls === undefined ? detail : { ...detail, tls: connection.tls };
  });
}

export function expectCode(connection: Connection, step: string, reply: SmtpReply, code: number): SmtpReply {
  if (reply.code === code) return reply;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected ${code}, got ${reply.code}`, {
    replyCode: reply.code,
    reply: describe(reply),
  });
}

function describe(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines.join(' / ')}`;
}
