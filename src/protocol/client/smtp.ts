/** SMTP and LMTP readiness dialogs: banner, EHLO or LHLO, QUIT. */
import { createSmtpReplyParser, helloCapabilities, type SmtpReply } from '../smtp-reply.ts';
import type { Connection, StepReader } from './connection.ts';
import { checkOption, runDialog, sayGoodbye, type DialogOptions, type DialogResult } from './dialog.ts';

export interface HelloOptions extends DialogOptions {
  /** Name sent with EHLO or LHLO: a domain or an address literal (`[127.0.0.1]`). Default `localhost`. */
  readonly heloName?: string;
}

export interface HelloDetail {
  /** The 220 greeting (can be multi-line, as postscreen sends it). */
  readonly banner: SmtpReply;
  /** The 250 answer to EHLO or LHLO. */
  readonly hello: SmtpReply;
  /** Extension lines of the hello reply, e.g. `PIPELINING`, `SIZE 10240000`, `STARTTLS`. */
  readonly capabilities: readonly string[];
}

const HELO_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[A-Za-z0-9:.]+\])$/;

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

async function helloDialog(options: HelloOptions, verb: 'EHLO' | 'LHLO'): Promise<DialogResult<HelloDetail>> {
  const heloName = options.heloName ?? 'localhost';
  checkOption(options, 'heloName', heloName, HELO_NAME);
  return runDialog(options, async (connection) => {
    const banner = expectCode(connection, 'banner', await connection.exchange('banner', undefined, readSmtpReply), 220);
    const step = verb.toLowerCase();
    const hello = expectCode(connection, step, await connection.exchange(step, `${verb} ${heloName}`, readSmtpReply), 250);
    await sayGoodbye(connection, 'quit', 'QUIT', readSmtpReply);
    return { banner, hello, capabilities: helloCapabilities(hello) };
  });
}

function expectCode(connection: Connection, step: string, reply: SmtpReply, code: number): SmtpReply {
  if (reply.code === code) return reply;
  const text = `${reply.code} ${reply.lines.join(' / ')}`;
  throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected ${code}, got ${reply.code}`, {
    replyCode: reply.code,
    reply: text,
  });
}
