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

/** `*1\r\n$4\r\nPING`: the command as a RESP array, as redis-cli sends it (the connection adds the final CRLF). */
const PING_COMMAND = '*1\r\n$4\r\nPING';
const PONG_REPLY = '+PONG';
const OK_REPLY = '+OK';
/** A password the dialog sends: printable, no line breaks (RESP carries any bytes, but a config never holds more). */
const PASSWORD = /^[^\r\n\0]{1,512}$/;

/** `AUTH password` as a RESP array; the bulk string's length is in bytes. */
function authCommand(password: string): string {
  return `*2\r\n$4\r\nAUTH\r\n$${Buffer.byteLength(password)}\r\n${password}`;
}

/**
 * Sends AUTH (with `password`) and PING and expects `+OK`, then `+PONG`. An error reply such as
 * `-NOAUTH Authentication required.`, `-WRONGPASS ...` or `-LOADING ...` rejects with
 * `PROTOCOL_UNEXPECTED_REPLY` carrying the reply; the password is never part of an error.
 */
export async function redisPing(options: RedisPingOptions): Promise<DialogResult<RedisPingDetail>> {
  const { password } = options;
  if (password !== undefined) checkOption(options, 'password', password, PASSWORD);
  return runDialog(options, async (connection) => {
    if (password !== undefined) {
      const auth = await connection.exchange('auth', authCommand(password), readRawLine);
      if (auth !== OK_REPLY) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'auth', `expected ${OK_REPLY}`, { reply: auth });
    }
    const reply = await connection.exchange('ping', PING_COMMAND, readRawLine);
    if (reply !== PONG_REPLY) {
      throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'ping', `expected ${PONG_REPLY}`, { reply });
    }
    return { reply };
  });
}

/** A command argument the dialog sends: no line breaks or NULs (RESP carries any bytes, but none of ours needs them). */
const ARGUMENT = /^[^\r\n\0]{1,4096}$/;

/** `args` as a RESP array of bulk strings (lengths in bytes). */
function respCommand(args: readonly string[]): string {
  return [`*${args.length}`, ...args.flatMap((a) => [`$${Buffer.byteLength(a)}`, a])].join('\r\n');
}

/**
 * Sends AUTH (with `password`), then `args` as one command, and expects `+OK` to both. An error reply rejects with
 * `PROTOCOL_UNEXPECTED_REPLY` carrying the reply; neither the password nor the arguments are part of an error.
 */
export async function redisCommand(options: RedisPingOptions & { readonly args: readonly string[] }): Promise<DialogResult<RedisPingDetail>> {
  const { password, args } = options;
  if (password !== undefined) checkOption(options, 'password', password, PASSWORD);
  if (args.length === 0) throw new TypeError('redisCommand needs a command');
  for (const a of args) checkOption(options, 'args', a, ARGUMENT);
  return runDialog(options, async (connection) => {
    if (password !== undefined) {
      const auth = await connection.exchange('auth', authCommand(password), readRawLine);
      if (auth !== OK_REPLY) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', 'auth', `expected ${OK_REPLY}`, { reply: auth });
    }
    const step = (args[0] as string).toLowerCase();
    const reply = await connection.exchange(step, respCommand(args), readRawLine);
    if (reply !== OK_REPLY) throw connection.error('PROTOCOL_UNEXPECTED_REPLY', step, `expected ${OK_REPLY}`, { reply });
    return { reply };
  });
}
