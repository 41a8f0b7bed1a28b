/**
 * The one place in `src/protocol/` that opens sockets: a TCP connection read line by line, driven
 * in steps. Every step (connect, then each command and its reply) gets its own timeout; an abort
 * signal or a timeout destroys the socket at once and fails the step in progress.
 */
import { connect, type Socket } from 'node:net';
import { protocolError, type ProtocolError, type ProtocolErrorCode, type ProtocolErrorFields } from '../errors.ts';
import { createLineSplitter } from '../lines.ts';
import type { ParseError, ParseResult } from '../result.ts';

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  /** Limit for each step. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** What an error adds beyond its code, step and message. */
export type ErrorDetail = Omit<ProtocolErrorFields, 'address' | 'step'>;

/** Reads one reply with `nextLine` and returns the codec's verdict. */
export type StepReader<T> = (nextLine: () => Promise<string>) => Promise<ParseResult<T>>;

export interface Connection {
  /** `host:port`, for error messages. */
  readonly address: string;
  /** Sends `command` (CRLF appended) unless undefined, then reads the reply with `read`, within the step timeout. */
  exchange<T>(step: string, command: string | undefined, read: StepReader<T>): Promise<T>;
  /** An error about this peer. */
  error(code: ProtocolErrorCode, step: string, message: string, fields?: ErrorDetail): ProtocolError;
  /** Destroys the socket; safe to call more than once. */
  destroy(): void;
}

/** Lines buffered before reading from the socket pauses, so a flooding peer cannot grow memory. */
const HIGH_WATER_LINES = 64;

/** Connects within `timeoutMs`; rejects with `PROTOCOL_CONNECT_FAILED`, `PROTOCOL_TIMEOUT` or `PROTOCOL_ABORTED`. */
export async function openConnection(target: ConnectionTarget): Promise<Connection> {
  const address = formatAddress(target.host, target.port);
  const error: Connection['error'] = (code, step, message, fields = {}) =>
    protocolError(code, message, { ...fields, address, step });
  const { signal } = target;
  if (signal?.aborted) throw error('PROTOCOL_ABORTED', 'connect', 'dialog aborted', { cause: signal.reason });

  let step = 'connect';
  const socket = connect({ host: target.host, port: target.port });
  const lines = createLineSocket(socket, (code, message, fields) => error(code, step, message, fields));
  const onAbort = (): void => lines.fail(error('PROTOCOL_ABORTED', step, 'dialog aborted', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });

  function destroy(): void {
    signal?.removeEventListener('abort', onAbort);
    socket.destroy();
  }

  async function withDeadline<T>(name: string, work: () => Promise<T>): Promise<T> {
    step = name;
    const message = `no answer within ${target.timeoutMs} ms`;
    const timer = setTimeout(() => lines.fail(error('PROTOCOL_TIMEOUT', name, message)), target.timeoutMs);
    try {
      return await work();
    } finally {
      clearTimeout(timer);
    }
  }

  function exchange<T>(name: string, command: string | undefined, read: StepReader<T>): Promise<T> {
    return withDeadline(name, async () => {
      if (command !== undefined) lines.send(command);
      const result = await read(lines.nextLine);
      if (!result.ok) throw error(result.error.code, name, result.error.message, { reply: result.error.input });
      return result.value;
    });
  }

  try {
    await withDeadline('connect', lines.connected);
  } catch (cause) {
    destroy();
    throw cause;
  }
  return { address, exchange, error, destroy };
}

type RaiseError = (code: ProtocolErrorCode, message: string, fields?: ErrorDetail) => ProtocolError;

interface LineSocket {
  /** Resolves once the TCP connection is open. */
  connected: () => Promise<void>;
  /** The next complete line; rejects on a line error, once the peer has closed, or after `fail`. */
  nextLine: () => Promise<string>;
  /** Writes `command` and CRLF; throws once the peer has closed or the socket failed. */
  send(command: string): void;
  /** Destroys the socket and fails the wait in progress and every later one with `reason` (the first reason wins). */
  fail(reason: ProtocolError): void;
}

/** A socket seen as a queue of lines, with one waiter at a time woken by every socket event. */
function createLineSocket(socket: Socket, raise: RaiseError): LineSocket {
  const splitter = createLineSplitter();
  const queue: ParseResult<string>[] = [];
  let connected = false;
  let ended: { unterminated?: ParseError } | undefined;
  let failure: ProtocolError | undefined;
  let wake: (() => void) | undefined;

  function fail(reason: ProtocolError): void {
    failure ??= reason;
    socket.destroy();
    wake?.();
  }

  function markEnded(): void {
    if (ended !== undefined) return;
    const [rest] = splitter.end();
    ended = rest !== undefined && !rest.ok ? { unterminated: rest.error } : {};
    wake?.();
  }

  socket.on('connect', () => {
    connected = true;
    wake?.();
  });
  socket.on('data', (chunk: Buffer) => {
    queue.push(...splitter.push(chunk));
    if (queue.length >= HIGH_WATER_LINES) socket.pause();
    wake?.();
  });
  socket.on('end', markEnded);
  socket.on('close', markEnded);
  socket.on('error', (cause) => {
    if (connected) fail(raise('PROTOCOL_CONNECTION_CLOSED', 'connection failed', { cause }));
    else fail(raise('PROTOCOL_CONNECT_FAILED', 'cannot connect', { cause }));
  });

  /** Resolves with the first defined value of `check`, re-run on every socket event; rejects on failure. */
  function waitFor<T>(check: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const attempt = (): void => {
        wake = undefined;
        if (failure !== undefined) return reject(failure);
        try {
          const value = check();
          if (value === undefined) wake = attempt;
          else resolve(value);
        } catch (cause) {
          reject(cause instanceof Error ? cause : new Error(String(cause)));
        }
      };
      attempt();
    });
  }

  function takeLine(): string | undefined {
    const item = queue.shift();
    if (item === undefined) {
      if (ended === undefined) return undefined;
      const { unterminated } = ended;
      throw raise('PROTOCOL_CONNECTION_CLOSED', 'peer closed the connection', { reply: unterminated?.input, cause: unterminated });
    }
    if (queue.length === 0) socket.resume();
    if (!item.ok) throw raise(item.error.code, item.error.message, { reply: item.error.input });
    return item.value;
  }

  return {
    connected: async () => {
      await waitFor(() => (connected ? true : undefined));
    },
    nextLine: () => waitFor(takeLine),
    send(command) {
      if (failure !== undefined) throw failure;
      if (!socket.writable) throw raise('PROTOCOL_CONNECTION_CLOSED', 'peer closed the connection');
      socket.write(`${command}\r\n`, 'latin1');
    },
    fail,
  };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
