/**
 * LMTP connections to the mailbox backends, kept open across transactions: greeting and LHLO happen once per
 * connection instead of once per message. Each connection carries one transaction at a time
 * (backend-transaction.ts) and goes back to the pool when it ends in step. A few transactions run at a backend
 * at once; more wait for a slot, within a deadline.
 *
 * A connection is reused only for `maxAgeMs` after it was opened. Each one is a Dovecot lmtp process of the
 * configuration the backend had when it opened: after a reload (the backend's peers moved, say LDAP to a new
 * address) that process and the auth process it asks stay on the old configuration for as long as the
 * connection lives. Kept for good, one such connection made every message through it wait for an LDAP
 * server that was gone (4 s each).
 */
import { openConnection, type Connection, type ConnectionOptions } from './backend-connection.ts';
import { sendEnvelope, temporary, type Envelope, type FirstChunk, type MessageSink, type TransactionTimeouts } from './backend-transaction.ts';

export type { Envelope, FirstChunk, MessageSink } from './backend-transaction.ts';

export interface PoolOptions extends ConnectionOptions, TransactionTimeouts {
  /** An idle connection is closed after this long. */
  idleMs: number;
  /** A connection opened longer ago than this is closed when its transaction ends, not reused. */
  maxAgeMs: number;
  /**
   * Transactions in flight per backend; more wait their turn. Deliveries are CPU- and fsync-bound on the
   * backend, so a few at a time keep it busy, and more only add Dovecot processes (one per connection).
   * A connection is opened only when none is idle, so this also bounds the connections per backend.
   */
  maxActivePerBackend: number;
  /** How long a transaction waits for a free slot at its backend before its recipients get 451. */
  slotWaitMs: number;
}

/**
 * What the pool counts: a connection `opened` or `reused`; a transaction `failed` at its backend (connect, silence,
 * a dropped connection), `queued` for a backend's free slot, or finding none within the deadline (`slot_timeout`);
 * an envelope `retried` on a new connection because a pooled one had been closed under it.
 */
export type PoolEvent = 'opened' | 'reused' | 'failed' | 'queued' | 'slot_timeout' | 'retried';

export interface BackendPool {
  /**
   * Starts a transaction at `host`: a slot, a connection, the envelope with the message's first chunk. Never
   * rejects: a backend that fails gives each recipient a 4xx, which `finish()` returns.
   */
  begin(host: string, envelope: Envelope, first: FirstChunk): Promise<MessageSink>;
  idleConnections(): number;
  /** Closes idle connections; transactions waiting for a slot get their 451 now. */
  close(): void;
}

/** A transaction whose replies are known before any message byte: writes go nowhere. */
function settled(replies: ReturnType<typeof temporary>[]): MessageSink {
  return { write: () => true, whenWritable: () => Promise.resolve(), finish: () => Promise.resolve(replies), abort: () => {} };
}

interface Waiter {
  settle(granted: boolean): void;
}

/** `count` hears each {@link PoolEvent} as it happens. */
export function createBackendPool(opts: PoolOptions, count: (event: PoolEvent) => void = () => {}): BackendPool {
  const idle = new Map<string, Connection[]>();
  const active = new Map<string, number>();
  const waiting = new Map<string, Waiter[]>();
  let closed = false;

  function acquire(host: string): Promise<boolean> {
    const n = active.get(host) ?? 0;
    if (n < opts.maxActivePerBackend) {
      active.set(host, n + 1);
      return Promise.resolve(true);
    }
    if (closed) return Promise.resolve(false);
    count('queued');
    const queue = waiting.get(host) ?? [];
    waiting.set(host, queue);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        settle(granted) {
          clearTimeout(timer);
          queue.splice(queue.indexOf(waiter), 1);
          if (queue.length === 0) waiting.delete(host);
          resolve(granted);
        },
      };
      const timer = setTimeout(() => {
        count('slot_timeout');
        waiter.settle(false);
      }, opts.slotWaitMs);
      queue.push(waiter);
    });
  }

  /** The slot passes straight to the next waiting transaction, if any. */
  function release(host: string): void {
    const next = waiting.get(host)?.[0];
    if (next) return next.settle(true);
    const n = (active.get(host) ?? 1) - 1;
    if (n > 0) active.set(host, n);
    else active.delete(host);
  }

  const tooOld = (conn: Connection): boolean => Date.now() - conn.openedAt > opts.maxAgeMs;

  function take(host: string): Connection | undefined {
    const list = idle.get(host);
    while (list && list.length > 0) {
      const conn = list.pop() as Connection;
      conn.idle(0);
      if (conn.usable() && !tooOld(conn)) return conn;
      if (!conn.socket.destroyed) conn.socket.end('QUIT\r\n');
    }
    idle.delete(host);
    return undefined;
  }

  function giveBack(host: string, conn: Connection): void {
    if (closed || !conn.usable() || tooOld(conn)) {
      conn.socket.end('QUIT\r\n');
      return;
    }
    conn.idle(opts.idleMs);
    const list = idle.get(host) ?? [];
    list.push(conn);
    idle.set(host, list);
  }

  async function start(host: string, env: Envelope, first: FirstChunk): Promise<MessageSink> {
    const temp = (text: string): MessageSink => settled(env.recipients.map((r) => temporary(r, text)));
    let conn = take(host);
    if (conn) count('reused');
    for (;;) {
      const pooled = conn !== undefined;
      if (!conn) {
        try {
          conn = await openConnection(host, opts);
          count('opened');
        } catch (err) {
          count('failed');
          release(host);
          return temp(`backend ${host} unavailable: ${(err as Error).message}`);
        }
      }
      const used = conn;
      const r = await sendEnvelope(used, env, opts, (reusable) => {
        if (reusable) giveBack(host, used);
        else count('failed');
        release(host);
      }, first);
      if (r.kind === 'open') return r.sink;
      if (r.kind === 'done') {
        if (r.reusable) giveBack(host, used);
        else used.socket.destroy();
        release(host);
        return settled(r.replies);
      }
      used.socket.destroy();
      // A pooled connection closed before MAIL was answered: nothing was stored, so sending it all again on a
      // new connection cannot store anything twice. Silence is no such proof: no repeat then.
      if (pooled && r.kind === 'closed') {
        count('retried');
        conn = undefined;
        continue;
      }
      count('failed');
      release(host);
      return temp(`backend ${host} failed: ${r.reason}`);
    }
  }

  return {
    async begin(host, env, first) {
      if (!(await acquire(host))) return settled(env.recipients.map((r) => temporary(r, `backend ${host} busy: no free slot within ${opts.slotWaitMs} ms`)));
      return start(host, env, first);
    },
    idleConnections: () => [...idle.values()].reduce((n, l) => n + l.length, 0),
    close() {
      closed = true;
      for (const list of idle.values()) for (const c of list) c.socket.end('QUIT\r\n');
      idle.clear();
      for (const queue of [...waiting.values()]) for (const w of [...queue]) w.settle(false);
    },
  };
}
