/**
 * LMTP connections to the mailbox backends, kept open across transactions: greeting and LHLO happen once
 * per connection instead of once per message. Each connection carries one transaction at a time (MAIL, the
 * RCPTs and `BDAT n LAST` with the message in one write, or pipelined DATA for a backend without CHUNKING)
 * and goes back to the pool when it ends in step.
 */
import { connect, type Socket } from 'node:net';
import { createLineSplitter, createSmtpReplyParser, dotUnstuff, helloCapabilities, lmtpReply, type LmtpReply, type SmtpReply } from '../protocol/index.ts';
import { readInto } from './read-buffer.ts';

export interface Delivery {
  readonly sender: string;
  readonly mailParams: readonly string[];
  readonly recipients: readonly string[];
  /** Dot-stuffed, ending in CRLF, as the client sent it. */
  readonly body: Buffer;
}

export interface PoolOptions {
  port: number;
  /** The name sent in LHLO. */
  heloName: string;
  /** Source address of backend connections (the proxy's own), when it has one. */
  localAddress?: string;
  connectTimeoutMs: number;
  /** Limit for each command reply. */
  replyTimeoutMs: number;
  /** Limit for the replies after the body (the backend is writing the message to storage). */
  dataTimeoutMs: number;
  /** An idle connection is closed after this long. */
  idleMs: number;
  /**
   * Transactions in flight per backend; more wait their turn. Deliveries are CPU- and fsync-bound on the
   * backend, so a few at a time keep it busy, and more only add Dovecot processes (one per connection).
   * A connection is opened only when none is idle, so this also bounds the connections per backend.
   */
  maxActivePerBackend: number;
}

export interface PoolCounters {
  opened: number;
  reused: number;
  failed: number;
  /** Transactions that had to wait for a backend's free slot. */
  queued: number;
}

export interface BackendPool {
  /** One reply per recipient, in order. Never rejects: a backend that fails gives each recipient a 4xx. */
  deliver(host: string, delivery: Delivery): Promise<LmtpReply[]>;
  counters(): Readonly<PoolCounters>;
  idleConnections(): number;
  close(): void;
}

interface Connection {
  readonly socket: Socket;
  /** The next reply, within `timeoutMs`; rejects when the connection ends first. */
  reply(timeoutMs: number): Promise<SmtpReply>;
  /** Waiting in the pool: QUIT after `ms` without use (0: no limit). */
  idle(ms: number): void;
  /** Whether a transaction may start on it (open, nothing unread). */
  usable(): boolean;
  /** The backend takes BDAT (RFC 3030): the whole transaction goes in one write. */
  chunking: boolean;
}

class BackendError extends Error {
  /** Whether the backend had answered anything in the transaction that failed. */
  answered = false;
}

/** Replies are short: one read buffer per connection is plenty. */
const READ_BUFFER_BYTES = 16 * 1024;

function openConnection(host: string, opts: PoolOptions): Promise<Connection> {
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
    let ended: Error | undefined;
    // One inactivity timer serves both uses: a reply awaited, or the connection idle in the pool. Node
    // refreshes it on every read and write, so no timer is created per reply.
    let armedMs = 0;
    const arm = (ms: number): void => {
      if (ms === armedMs) return;
      armedMs = ms;
      socket.setTimeout(ms);
    };

    const fail = (err: Error): void => {
      ended ??= err;
      if (waiter) {
        waiter.reject(ended);
        waiter = undefined;
      }
      socket.destroy();
    };
    function onReplies(chunk: Buffer): void {
      for (const line of lines.push(chunk)) {
        const r = line.ok ? parser.push(line.value) : line;
        if (r === undefined) continue;
        if (!r.ok) return fail(new BackendError(`backend sent a malformed reply: ${r.error.message}`));
        if (waiter) {
          const w = waiter;
          waiter = undefined;
          w.resolve(r.value);
        } else ready.push(r.value);
      }
    }
    socket.on('error', (err) => fail(new BackendError(err.message)));
    socket.on('timeout', () => {
      if (waiter) fail(new BackendError(`no reply within ${armedMs} ms`));
      else socket.end('QUIT\r\n');
    });
    socket.on('close', () => fail(new BackendError('backend closed the connection')));

    const conn: Connection = {
      socket,
      reply(timeoutMs) {
        const r = ready.shift();
        if (r) return Promise.resolve(r);
        if (ended) return Promise.reject(ended);
        arm(timeoutMs);
        return new Promise((res, rej) => {
          waiter = { resolve: res, reject: rej };
        });
      },
      idle: arm,
      usable: () => ended === undefined && ready.length === 0 && !socket.destroyed,
      chunking: false,
    };

    const connectTimer = setTimeout(() => fail(new BackendError(`connect timed out after ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
    (async () => {
      const greeting = await conn.reply(opts.connectTimeoutMs);
      if (greeting.code !== 220) throw new BackendError(`backend greeted with ${greeting.code}`);
      socket.write(`LHLO ${opts.heloName}\r\n`);
      const hello = await conn.reply(opts.replyTimeoutMs);
      if (hello.code !== 250) throw new BackendError(`backend refused LHLO with ${hello.code}`);
      conn.chunking = helloCapabilities(hello).some((c) => c.toUpperCase() === 'CHUNKING');
    })().then(
      () => {
        clearTimeout(connectTimer);
        resolve(conn);
      },
      (err: unknown) => {
        clearTimeout(connectTimer);
        const error = err instanceof Error ? err : new BackendError(String(err));
        fail(error);
        reject(ended ?? error);
      },
    );
  });
}

function asLmtpReply(r: SmtpReply): LmtpReply {
  const fallback = r.code < 300 ? '2.0.0' : r.code < 500 ? '4.0.0' : '5.0.0';
  return lmtpReply(r.code, r.enhanced ?? fallback, r.lines.join(' ').trim() || 'no text');
}

/** Reads one reply per recipient after the message: a refused RCPT already has its final reply. */
async function finalReplies(conn: Connection, rcpt: readonly SmtpReply[], opts: PoolOptions): Promise<LmtpReply[]> {
  const replies: LmtpReply[] = [];
  for (const r of rcpt) replies.push(asLmtpReply(r.code >= 300 ? r : await conn.reply(opts.dataTimeoutMs)));
  return replies;
}

/**
 * One transaction on `conn`. With CHUNKING, MAIL, the RCPTs and `BDAT n LAST` with the message go in one
 * write; otherwise MAIL, RCPTs and DATA are pipelined and the body follows the 354. Throws a BackendError
 * when the connection fails or falls out of step, saying whether the backend had answered anything.
 */
async function transact(conn: Connection, d: Delivery, opts: PoolOptions): Promise<LmtpReply[]> {
  const params = d.mailParams.length > 0 ? ` ${d.mailParams.join(' ')}` : '';
  const envelope = `MAIL FROM:<${d.sender}>${params}\r\n${d.recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('')}`;
  const message = conn.chunking ? dotUnstuff(d.body) : d.body;
  conn.socket.cork();
  if (conn.chunking) {
    conn.socket.write(`${envelope}BDAT ${message.length} LAST\r\n`);
    conn.socket.write(message);
  } else conn.socket.write(`${envelope}DATA\r\n`);
  conn.socket.uncork();
  let answered = false;
  try {
    const mail = await conn.reply(opts.replyTimeoutMs);
    answered = true;
    const rcpt: SmtpReply[] = [];
    for (let i = 0; i < d.recipients.length; i++) rcpt.push(await conn.reply(opts.replyTimeoutMs));
    const accepted = mail.code < 300 ? rcpt.filter((r) => r.code < 300).length : 0;
    if (conn.chunking) {
      // No recipient accepted: the BDAT gets one error reply. Otherwise one reply per accepted recipient.
      if (accepted === 0) {
        const refused = await conn.reply(opts.replyTimeoutMs);
        return rcpt.map((r) => asLmtpReply(mail.code >= 300 ? mail : r.code >= 300 ? r : refused));
      }
      return await finalReplies(conn, rcpt, opts);
    }
    const data = await conn.reply(opts.replyTimeoutMs);
    if (mail.code >= 300) return d.recipients.map(() => asLmtpReply(mail));
    if (data.code !== 354) return rcpt.map((r) => asLmtpReply(r.code >= 300 ? r : data));
    conn.socket.cork();
    conn.socket.write(d.body);
    conn.socket.write('.\r\n');
    conn.socket.uncork();
    return await finalReplies(conn, rcpt, opts);
  } catch (err) {
    if (err instanceof BackendError) err.answered = answered;
    throw err;
  }
}

export function createBackendPool(opts: PoolOptions): BackendPool {
  const idle = new Map<string, Connection[]>();
  const counters: PoolCounters = { opened: 0, reused: 0, failed: 0, queued: 0 };
  const active = new Map<string, number>();
  const waiting = new Map<string, (() => void)[]>();
  let closed = false;

  async function acquire(host: string): Promise<void> {
    const n = active.get(host) ?? 0;
    if (n < opts.maxActivePerBackend) {
      active.set(host, n + 1);
      return;
    }
    counters.queued++;
    const queue = waiting.get(host) ?? [];
    waiting.set(host, queue);
    await new Promise<void>((resolve) => queue.push(resolve));
  }

  /** The slot passes straight to the next waiting transaction, if any. */
  function release(host: string): void {
    const next = waiting.get(host)?.shift();
    if (next) return next();
    active.set(host, (active.get(host) ?? 1) - 1);
  }

  function take(host: string): Connection | undefined {
    const list = idle.get(host);
    while (list && list.length > 0) {
      const conn = list.pop() as Connection;
      conn.idle(0);
      if (conn.usable()) return conn;
    }
    return undefined;
  }

  function giveBack(host: string, conn: Connection): void {
    const list = idle.get(host) ?? [];
    if (closed || !conn.usable()) {
      conn.socket.end('QUIT\r\n');
      return;
    }
    conn.idle(opts.idleMs);
    list.push(conn);
    idle.set(host, list);
  }

  async function fresh(host: string): Promise<Connection> {
    const conn = await openConnection(host, opts);
    counters.opened++;
    return conn;
  }

  function temporary(d: Delivery, text: string): LmtpReply[] {
    return d.recipients.map((r) => lmtpReply(451, '4.4.0', `<${r}> ${text}`));
  }

  async function deliverNow(host: string, d: Delivery): Promise<LmtpReply[]> {
    let conn = take(host);
    if (conn) counters.reused++;
    for (;;) {
      const pooled = conn !== undefined;
      try {
        conn ??= await fresh(host);
      } catch (err) {
        counters.failed++;
        return temporary(d, `backend ${host} unavailable: ${(err as Error).message}`);
      }
      try {
        const replies = await transact(conn, d, opts);
        giveBack(host, conn);
        return replies;
      } catch (err) {
        conn.socket.destroy();
        // A pooled connection the backend had closed meanwhile fails before any reply: nothing was
        // delivered, so the transaction is tried once more on a new connection.
        if (pooled && err instanceof BackendError && !err.answered) {
          conn = undefined;
          continue;
        }
        counters.failed++;
        return temporary(d, `backend ${host} failed: ${(err as Error).message}`);
      }
    }
  }

  return {
    async deliver(host, d) {
      await acquire(host);
      try {
        return await deliverNow(host, d);
      } finally {
        release(host);
      }
    },
    counters: () => counters,
    idleConnections: () => [...idle.values()].reduce((n, l) => n + l.length, 0),
    close() {
      closed = true;
      for (const list of idle.values()) for (const c of list) c.socket.end('QUIT\r\n');
      idle.clear();
    },
  };
}
