/**
 * Redis dialogs: readiness (`AUTH` when a password is given, then `PING` as a RESP array, expecting `+PONG`), and one
 * command expecting `+OK` (the agent's `CONFIG SET` on its own Redis).
 */
import { checkOption, readRawLine, runDialog, type DialogOptions, type DialogResult } from './dialog.ts';

export interface RedisPingOptions extends DialogOptions {
  /** The password (`requirepass`, the default user's), sent with AUTH before PING. Default: none, no AUTH. */
  readonly password?: string;
}

export interface RedisPingDetail {
  /** The reply line, `+PONG`. */
  readonly reply: string;
}

const PONG_REPLY = '+PONG';
const OK_REPLY = '+OK';
/** A password the dialog sends: printable, no line breaks (RESP carries any bytes, but a config never holds more). */
const PASSWORD = /^[^\r\n\0]{1,512}$/;
/** A command argument the dialog sends: no line breaks or NULs (RESP carries any bytes, but none of ours needs them). */
const ARGUMENT = /^[^\r\n\0]{1,4096}$/;

/**
 * `args` as a RESP array of bulk strings (lengths in bytes), as redis-cli sends a command (the connection adds the
 * final CRLF): `PING` is `*1\r\n$4\r\nPING`.
 */
export function respCommand(args: readonly string[]): string {
  return [`*${args.length}`, ...args.flatMap((a) => [`$${Buffer.byteLength(a)}`, a])].join('\r\n');
}

/**
 * AUTH with `password` when there is one, then `args` as one command, each expected to answer one line: `+OK`, then
 * `expected`. Any other reply rejects with `PROTOCOL_UNEXPECTED_REPLY` carrying it; the step is the command's name in
 * lower case. Neither the password nor the arguments are part of an error.
 */
async function authThenCommand(options: RedisPingOptions, args: readonly string[], expected: string): Promise<DialogResult<RedisPingDetail>> {
  const { password } = options;
  if (password !== undefined) checkOption(options, 'password', password, PASSWORD);
  for (const a of args) checkOption(options, 'args', a, ARGUMENT);
  return runDialog(options, async (connection) => {
    const expect = async (command: readonly string[], reply: string): Promise<string> => {
      const step = (command[0] as string).toLowerCase();
      const got = await connection.exchange(step, respCommand(command), readRawLine);
      if (got !== reply) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected ${reply}`, { reply: got });
      return got;
    };
    if (password !== undefined) await expect(['AUTH', password], OK_REPLY);
    return { reply: await expect(args, expected) };
  });
}

/**
 * Sends AUTH (with `password`) and PING and expects `+OK`, then `+PONG`. An error reply such as
 * `-NOAUTH Authentication required.`, `-WRONGPASS ...` or `-LOADING ...` rejects with
 * `PROTOCOL_UNEXPECTED_REPLY` carrying the reply; the password is never part of an error.
 */
export async function redisPing(options: RedisPingOptions): Promise<DialogResult<RedisPingDetail>> {
  return authThenCommand(options, ['PING'], PONG_REPLY);
}

/** Sends AUTH (with `password`), then `args` as one command, and expects `+OK` to both (see redisPing for errors). */
export async function redisCommand(options: RedisPingOptions & { readonly args: readonly string[] }): Promise<DialogResult<RedisPingDetail>> {
  if (options.args.length === 0) throw new TypeError('redisCommand needs a command');
  return authThenCommand(options, options.args, OK_REPLY);
}
