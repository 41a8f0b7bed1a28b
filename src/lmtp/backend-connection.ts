/**
 * One LMTP client connection to a mailbox backend: greeting, LHLO, then replies read in order. Knows nothing
 * of transactions (see backend-transaction.ts) or pooling (backend-pool.ts).
 */
import { connect, type Socket } from 'node:net';
import { createLineSplitter, createSmtpReplyParser, helloCapabilities, type SmtpReply } from '../protocol/index.ts';
import { readInto } from './read-buffer.ts';

export interface ConnectionOptions {
  port: number;
  /** The name sent in LHLO. */
  heloName: string;
  /** Source address of backend connections (the proxy's own), when it has one. */
  localAddress?: string;
  connectTimeoutMs: number;
  /** Limit for the greeting and the LHLO reply. */
  replyTimeoutMs: number;
}

export interface Connection {
  readonly socket: Socket;
  /**
   * The next reply, within `timeoutMs` of silence; rejects when the connection ends first. Only one caller
   * waits at a time.
   */
  reply(timeoutMs: number): Promise<SmtpReply>;
  /** In a transaction, silence is the client's unless a reply is awaited; idle, it lets the connection go. */
  busy(on: boolean): void;
  /** Waiting in the pool: QUIT after `ms` without use. */
  idle(ms: number): void;
  /** Whether a transaction may start on it (open, nothing unread). */
  usable(): boolean;
  /** When it was opened (`Date.now()`). */
  readonly openedAt: number;
  /** Resolves when the connection has ended, with why. */
  readonly ended: Promise<Error>;
}

/** Why a connection failed: it went silent, it was closed or reset, or it broke the protocol. */
export class BackendError extends Error {
  readonly kind: 'timeout' | 'closed' | 'protocol';
  constructor(message: string, kind: BackendError['kind']) {
    super(message);
    this.kind = kind;
  }
}

/** Replies are short: one read buffer per connection is plenty. */
const READ_BUFFER_BYTES = 16 * 1024;

export function openConnection(host: string, opts: ConnectionOptions): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: opts.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      onread: readInto(READ_BUFFER_BYTES, (chunk) => onReplies(chunk)),
    });
    socket.setNoDelay(true);
    const lines = createLineSplitter();
    const parser = createSmtpReplyParser();
    const ready: SmtpReply[] = [];
    let waiter: { resolve: (r: SmtpReply) => void; reject: (e: Error) => void } | undefined;
    let failure: Error | undefined;
    let inTransaction = false;
    let signalEnd: (err: Error) => void = () => {};
    const ended = new Promise<Error>((res) => {
      signalEnd = res;
    });
    // One inactivity timer serves every use: a reply awaited, a write the backend does not take, or the
    // connection idle in the pool. Node refreshes it on every read and write, so no timer is made per reply.
    let armedMs = 0;
    const arm = (ms: number): void => {
      if (ms === armedMs) return;
      armedMs = ms;
      socket.setTimeout(ms);
    };

    const fail = (err: Error): void => {
      if (!failure) {
        failure = err;
        signalEnd(err);
      }
      if (waiter) {
        waiter.reject(failure);
        waiter = undefined;
      }
      socket.destroy();
    };
    function onReplies(chunk: Buffer): void {
      for (const line of lines.push(chunk)) {
        const r = line.ok ? parser.push(line.value) : line;
        if (r === undefined) continue;
        if (!r.ok) return fail(new BackendError(`backend sent a malformed reply: ${r.error.message}`, 'protocol'));
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w.resolve(r.value);
        } else if (ready.length < 1000) ready.push(r.value);
        else return fail(new BackendError('backend sent replies nobody asked for', 'protocol'));
      }
    }
    socket.on('error', (err) => fail(new BackendError(err.message, 'closed')));
    socket.on('timeout', () => {
      if (waiter) fail(new BackendError(`backend silent for ${armedMs} ms`, 'timeout'));
      // In a transaction with no reply awaited, the backend has all it was sent and the wait is for our
      // client, whose own deadlines apply; only an idle connection is let go.
      else if (!inTransaction) socket.end('QUIT\r\n');
    });
    socket.on('close', () => fail(new BackendError('backend closed the connection', 'closed')));

    const conn: Connection = {
      socket,
      reply(timeoutMs) {
        const r = ready.shift();
        if (r) return Promise.resolve(r);
        if (failure) return Promise.reject(failure);
        arm(timeoutMs);
        return new Promise((res, rej) => {
          waiter = { resolve: res, reject: rej };
        });
      },
      busy(on) {
        inTransaction = on;
      },
      idle: arm,
      usable: () => failure === undefined && ready.length === 0 && !socket.destroyed,
      openedAt: Date.now(),
      ended,
    };

    const connectTimer = setTimeout(() => fail(new BackendError(`connect timed out after ${opts.connectTimeoutMs} ms`, 'timeout')), opts.connectTimeoutMs);
    (async () => {
      const greeting = await conn.reply(opts.connectTimeoutMs);
      if (greeting.code !== 220) throw new BackendError(`backend greeted with ${greeting.code}`, 'protocol');
      socket.write(`LHLO ${opts.heloName}\r\n`);
      const hello = await conn.reply(opts.replyTimeoutMs);
      if (hello.code !== 250) throw new BackendError(`backend refused LHLO with ${hello.code}`, 'protocol');
      // The message goes in BDAT chunks, whose length says where it ends: nothing in it can be read as a command.
      if (!helloCapabilities(hello).some((c) => c.toUpperCase() === 'CHUNKING')) throw new BackendError('backend does not offer CHUNKING', 'protocol');
    })().then(
      () => {
        clearTimeout(connectTimer);
        resolve(conn);
      },
      (err: unknown) => {
        clearTimeout(connectTimer);
        const error = err instanceof Error ? err : new BackendError(String(err), 'protocol');
        fail(error);
        reject(failure ?? error);
      },
    );
  });
}
