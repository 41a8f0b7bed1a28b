/**
 * What every dialog client shares: options, the result shape, and running a dialog on a connection
 * that is destroyed afterwards whatever happened.
 */
import { protocolError } from '../errors.ts';
import { parsed, type ParseResult } from '../result.ts';
import { openConnection, type Connection, type StepReader } from './connection.ts';
import { tlsOptionProblem, type TlsClientOptions } from './tls.ts';

/** Limit for each dialog step when the caller sets none. */
export const DEFAULT_STEP_TIMEOUT_MS = 5000;

export interface DialogOptions {
  /** Host name or IP address of the peer. */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
  /** A unix socket to connect to instead (a daemon's local socket for its own agent); `host` and `port` still name it. */
  readonly socketPath?: string;
  /** Limit for each step: connect, the greeting, and each command's reply. Default {@link DEFAULT_STEP_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Aborting destroys the socket and rejects with `PROTOCOL_ABORTED`. */
  readonly signal?: AbortSignal;
  /** TLS, implicit or by STARTTLS; absent: plaintext. */
  readonly tls?: TlsClientOptions;
}

export interface DialogResult<D> {
  readonly ok: true;
  /** Wall time of the whole dialog, connect to close, in milliseconds. */
  readonly latencyMs: number;
  readonly detail: D;
}

/** Checks `options` and connects (and with implicit TLS, shakes hands). */
export async function connectDialog(options: DialogOptions): Promise<Connection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  checkOptions(options, timeoutMs);
  return openConnection({
    host: options.host, port: options.port, timeoutMs, signal: options.signal, tls: options.tls, ...(options.socketPath === undefined ? {} : { socketPath: options.socketPath }),
  });
}

/** Opens a connection, runs `dialog` on it, and destroys the socket whatever the outcome. */
export async function runDialog<D>(options: DialogOptions, dialog: (connection: Connection) => Promise<D>): Promise<DialogResult<D>> {
  const started = performance.now();
  const connection = await connectDialog(options);
  try {
    const detail = await dialog(connection);
    return { ok: true, latencyMs: performance.now() - started, detail };
  } finally {
    connection.destroy();
  }
}

/** Throws `PROTOCOL_AUTH_WITHOUT_TLS` unless the connection is on TLS or plaintext credentials are allowed. */
export function checkAuthOverTls(connection: Connection, step: string, allowPlaintext: boolean | undefined): void {
  if (connection.tls !== undefined || allowPlaintext === true) return;
  throw connection.error('PROTOCOL_AUTH_WITHOUT_TLS', step, 'credentials would be sent without TLS (set tls, or allowPlaintextAuth for a test of the refusal)');
}

/**
 * Says goodbye (QUIT, LOGOUT) and waits for the answer, ignoring any failure: the check has
 * already passed, and a peer that hangs up without answering is still ready.
 */
export async function sayGoodbye(connection: Connection, step: string, command: string, read: StepReader<unknown>): Promise<void> {
  try {
    await connection.exchange(step, command, read);
  } catch {
    // The verdict is already in; the socket is destroyed by runDialog.
  }
}

/** A reader for replies of exactly one line. */
export function readOneLine<T>(parse: (line: string) => ParseResult<T>): StepReader<T> {
  return async (nextLine) => parse(await nextLine());
}

/** A reader that hands back the raw line. */
export const readRawLine: StepReader<string> = readOneLine(parsed);

/** Throws `PROTOCOL_INVALID_OPTION` unless `value` matches `pattern`; keeps CR, LF and spaces out of commands. */
export function checkOption(options: DialogOptions, field: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) throw invalidOption(options, `${field} must match ${pattern}`);
}

function checkOptions(options: DialogOptions, timeoutMs: number): void {
  if (typeof options.host !== 'string' || options.host === '') throw invalidOption(options, 'host must be a non-empty string');
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw invalidOption(options, 'port must be an integer from 1 to 65535');
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalidOption(options, 'timeoutMs must be a positive number');
  const tlsProblem = options.tls === undefined ? undefined : tlsOptionProblem(options.tls);
  if (tlsProblem !== undefined) throw invalidOption(options, tlsProblem);
}

function invalidOption(options: DialogOptions, message: string): Error {
  return protocolError('PROTOCOL_INVALID_OPTION', message, { address: `${options.host}:${options.port}`, step: 'options' });
}
