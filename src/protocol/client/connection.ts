/**
 * The one place in `src/protocol/` that opens sockets: a TCP connection read line by line, driven
 * in steps, which can turn into TLS (implicit right after connecting, or after the peer's
 * go-ahead to STARTTLS). Every step (connect, the handshake, then each command and its reply)
 * gets its own deadline, which data arriving does not extend; an abort signal or a missed deadline
 * destroys the socket at once and fails the step in progress.
 */
import { connect } from 'node:net';
import { protocolError, type ProtocolError, type ProtocolErrorCode } from '../errors.ts';
import type { ParseResult } from '../result.ts';
import { createLineSocket, type ErrorDetail } from './line-socket.ts';
import { loadTls, secureContext, serverName, startHandshake, tlsDetail, untrustedReason, type TlsClientOptions, type TlsDetail } from './tls.ts';

export type { ErrorDetail } from './line-socket.ts';

export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  /** A unix socket to connect to instead of `host:port`, which then only name the peer in errors. */
  readonly socketPath?: string;
  /** Limit for each step. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** With `mode: 'implicit'` the handshake (step `tls`) follows the connect; `starttls` is left to the dialog. */
  readonly tls?: TlsClientOptions;
}

/** Reads one reply with `nextLine` and returns the codec's verdict. */
export type StepReader<T> = (nextLine: () => Promise<string>) => Promise<ParseResult<T>>;

export interface Connection {
  /** `host:port`, for error messages. */
  readonly address: string;
  /** Sends `command` (CRLF appended) unless undefined, then reads the reply with `read`, within the step timeout. */
  exchange<T>(step: string, command: string | undefined, read: StepReader<T>): Promise<T>;
  /**
   * Runs the TLS handshake on the open connection within the step timeout: for STARTTLS, call it
   * once the peer has said go ahead. Rejects with `PROTOCOL_TLS_HANDSHAKE_FAILED`,
   * `PROTOCOL_TLS_UNTRUSTED`, `PROTOCOL_TIMEOUT` or `PROTOCOL_ABORTED`.
   */
  startTls(step: string, options: TlsClientOptions): Promise<TlsDetail>;
  /** The TLS session once a handshake has succeeded; undefined on plaintext. */
  readonly tls: TlsDetail | undefined;
  /** An error about this peer. */
  error(code: ProtocolErrorCode, step: string, message: string, fields?: ErrorDetail): ProtocolError;
  /** Destroys the socket; safe to call more than once. */
  destroy(): void;
  /** Says goodbye with `farewell` (QUIT, LOGOUT) and destroys the socket, whether the peer answers or hangs up first. */
  close(farewell: () => Promise<unknown>): Promise<void>;
}

/**
 * Connects within `timeoutMs` (and with implicit TLS, shakes hands within another `timeoutMs`);
 * rejects with `PROTOCOL_CONNECT_FAILED`, a TLS error, `PROTOCOL_TIMEOUT` or `PROTOCOL_ABORTED`.
 */
export async function openConnection(target: ConnectionTarget): Promise<Connection> {
  const address = target.socketPath ?? formatAddress(target.host, target.port);
  const error: Connection['error'] = (code, step, message, fields = {}) =>
    protocolError(code, message, { ...fields, address, step });
  const { signal } = target;
  if (signal?.aborted) throw error('PROTOCOL_ABORTED', 'connect', 'dialog aborted', { cause: signal.reason });

  let step = 'connect';
  let tls: TlsDetail | undefined;
  const socket = target.socketPath === undefined ? connect({ host: target.host, port: target.port }) : connect({ path: target.socketPath });
  const lines = createLineSocket(socket, (code, message, fields) => error(code, step, message, fields));
  const onAbort = (): void => lines.fail(error('PROTOCOL_ABORTED', step, 'dialog aborted', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });

  function destroy(): void {
    signal?.removeEventListener('abort', onAbort);
    lines.fail(error('PROTOCOL_CONNECTION_CLOSED', step, 'connection closed by the client'));
  }

  async function close(farewell: () => Promise<unknown>): Promise<void> {
    try {
      await farewell();
    } catch {
      // the peer may hang up first
    } finally {
      destroy();
    }
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

  async function startTls(name: string, options: TlsClientOptions): Promise<TlsDetail> {
    if (tls !== undefined) throw error('PROTOCOL_INVALID_OPTION', name, 'TLS is already on');
    return withDeadline(name, async () => {
      const module = await loadTls();
      let context;
      try {
        context = secureContext(module, options);
      } catch (cause) {
        throw error('PROTOCOL_INVALID_OPTION', name, 'tls.ca does not parse as PEM certificates', { cause });
      }
      const servername = serverName(target.host, options);
      const secure = lines.upgrade((plain) => startHandshake(module, plain, target.host, context, servername));
      await lines.ready();
      const untrusted = untrustedReason(secure);
      if (untrusted !== undefined && options.rejectUnauthorized !== false) {
        const failure = error('PROTOCOL_TLS_UNTRUSTED', name, `certificate not trusted: ${untrusted}`);
        lines.fail(failure);
        throw failure;
      }
      tls = tlsDetail(secure, servername);
      return tls;
    });
  }

  try {
    await withDeadline('connect', lines.ready);
    if (target.tls?.mode === 'implicit') await startTls('tls', target.tls);
  } catch (cause) {
    destroy();
    throw cause;
  }
  return {
    address,
    exchange,
    startTls,
    get tls() {
      return tls;
    },
    error,
    destroy,
    close,
  };
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
