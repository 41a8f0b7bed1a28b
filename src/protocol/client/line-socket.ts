/**
 * A socket seen as a queue of lines, with one waiter at a time woken by every socket event. The
 * socket underneath can be swapped once for a TLS socket wrapping it (implicit TLS, STARTTLS): the
 * queue must be empty then, so that nothing the peer sent in plaintext is read as if it came
 * over TLS.
 */
import type { Socket } from 'node:net';
import type { ProtocolError, ProtocolErrorCode, ProtocolErrorFields } from '../errors.ts';
import { createLineSplitter } from '../lines.ts';
import type { ParseError, ParseResult } from '../result.ts';

/** What an error adds beyond its code, step and message. */
export type ErrorDetail = Omit<ProtocolErrorFields, 'address' | 'step'>;

export type RaiseError = (code: ProtocolErrorCode, message: string, fields?: ErrorDetail) => ProtocolError;

/** Lines buffered before reading from the socket pauses, so a flooding peer cannot grow memory. */
const HIGH_WATER_LINES = 64;

/** How a socket becomes usable: plain TCP at `connect`, TLS at `secureConnect`. */
interface Phase {
  readonly readyEvent: 'connect' | 'secureConnect';
  /** The code of an error before the socket is ready. */
  readonly failedCode: ProtocolErrorCode;
  readonly failedMessage: string;
}

const TCP: Phase = { readyEvent: 'connect', failedCode: 'PROTOCOL_CONNECT_FAILED', failedMessage: 'cannot connect' };
const TLS: Phase = { readyEvent: 'secureConnect', failedCode: 'PROTOCOL_TLS_HANDSHAKE_FAILED', failedMessage: 'TLS handshake failed' };

export interface LineSocket {
  /** Resolves once the socket is ready: TCP connected, or after `upgrade` the TLS handshake done. */
  ready: () => Promise<void>;
  /** The next complete line; rejects on a line error, once the peer has closed, or after `fail`. */
  nextLine: () => Promise<string>;
  /** Writes `command` and CRLF; throws once the peer has closed or the socket failed. */
  send(command: string): void;
  /**
   * Hands the socket to `wrap` (which starts a TLS handshake on it) and reads from what it returns;
   * `ready` then waits for the handshake. Throws when lines the caller has not read are queued.
   */
  upgrade<S extends Socket>(wrap: (socket: Socket) => S): S;
  /** Destroys the socket and fails the wait in progress and every later one with `reason` (the first reason wins). */
  fail(reason: ProtocolError): void;
}

export function createLineSocket(tcp: Socket, raise: RaiseError): LineSocket {
  let socket = tcp;
  let phase = TCP;
  let splitter = createLineSplitter();
  const queue: ParseResult<string>[] = [];
  let isReady = false;
  let ended: { unterminated?: ParseError } | undefined;
  let failure: ProtocolError | undefined;
  let wake: (() => void) | undefined;

  function fail(reason: ProtocolError): void {
    failure ??= reason;
    socket.destroy();
    tcp.destroy();
    wake?.();
  }

  function markEnded(): void {
    if (ended !== undefined) return;
    const [rest] = splitter.end();
    ended = rest !== undefined && !rest.ok ? { unterminated: rest.error } : {};
    wake?.();
  }

  const onReady = (): void => {
    isReady = true;
    wake?.();
  };
  const onData = (chunk: Buffer): void => {
    queue.push(...splitter.push(chunk));
    if (queue.length >= HIGH_WATER_LINES) socket.pause();
    wake?.();
  };
  const onError = (cause: Error): void => {
    if (isReady) fail(raise('PROTOCOL_CONNECTION_CLOSED', 'connection failed', { cause }));
    else fail(raise(phase.failedCode, phase.failedMessage, { cause }));
  };

  function attach(): void {
    socket.on(phase.readyEvent, onReady);
    socket.on('data', onData);
    socket.on('end', markEnded);
    socket.on('close', markEnded);
    socket.on('error', onError);
  }
  attach();

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

  function checkReady(): true | undefined {
    if (isReady) return true;
    if (ended !== undefined) throw raise(phase.failedCode, `${phase.failedMessage}: peer closed the connection`);
    return undefined;
  }

  return {
    ready: async () => {
      await waitFor(checkReady);
    },
    nextLine: () => waitFor(takeLine),
    send(command) {
      if (failure !== undefined) throw failure;
      if (!socket.writable) throw raise('PROTOCOL_CONNECTION_CLOSED', 'peer closed the connection');
      socket.write(`${command}\r\n`, 'latin1');
    },
    upgrade(wrap) {
      if (failure !== undefined) throw failure;
      if (ended !== undefined) throw raise('PROTOCOL_CONNECTION_CLOSED', 'peer closed the connection');
      // Bytes after the go-ahead and before the handshake are either noise or an attempt to have
      // plaintext read as if it came over TLS (command injection, CVE-2011-0411): never read them.
      const [partial] = splitter.end();
      const early = queue[0] ?? partial;
      if (early !== undefined) {
        const reply = early.ok ? early.value : early.error.input;
        throw raise('PROTOCOL_MALFORMED_REPLY', 'data after the go-ahead, before the TLS handshake', { reply });
      }
      socket.off(phase.readyEvent, onReady);
      socket.off('data', onData);
      socket.off('end', markEnded);
      socket.off('close', markEnded);
      socket.off('error', onError);
      // The TLS socket reports errors of the connection from now on; this keeps a late one on the
      // plain socket from being an unhandled 'error' event.
      tcp.on('error', () => undefined);
      const secure = wrap(tcp);
      socket = secure;
      phase = TLS;
      splitter = createLineSplitter();
      isReady = false;
      attach();
      return secure;
    },
    fail,
  };
}
