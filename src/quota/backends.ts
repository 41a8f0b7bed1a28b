/**
 * Connections to the backends' Dovecot quota-status, kept open across questions: each is one quota-status process on
 * the backend (one client per process), which answers question after question. A connection carries one question at
 * a time; at most `maxPerBackend` are open to one backend, in use or idle, and a question that finds all of them in
 * use is not asked (the relay lets the mail in). An idle connection is closed after `idleMs`.
 *
 * A question is read-only, so asking it again is harmless: one asked on a pooled connection that turns out closed
 * (quota-status processes end on their own, the backend restarted) goes once more on a new one, within its deadline.
 */
import { connect, type Socket } from 'node:net';
import { createPolicyReplyDecoder } from '../protocol/index.ts';

export type BackendFailure = 'connect' | 'timeout' | 'closed' | 'protocol' | 'busy';

export type BackendAnswer =
  | { readonly kind: 'action'; readonly action: string }
  | { readonly kind: 'failed'; readonly reason: BackendFailure; readonly detail: string };

export interface QuotaBackendOptions {
  /** The backends' quota-status port. */
  port: number;
  /** Source address of backend connections (the proxy's own), when it has one. */
  localAddress?: string;
  maxPerBackend: number;
  idleMs: number;
}

export interface QuotaBackends {
  /** Asks `host` the encoded `request`; settles by `deadline` (`Date.now()` time) whatever the backend does. Never rejects. */
  ask(host: string, request: Buffer, deadline: number): Promise<BackendAnswer>;
  /** Open connections, in use or idle. */
  open(): number;
  /** Closes every connection; questions in flight fail. */
  close(): void;
}

interface Conn {
  readonly socket: Socket;
  /** The question in flight, which hears the reply or why there is none. */
  waiter: ((answer: BackendAnswer) => void) | undefined;
  /** It has answered at least once (so it was reused when it fails). */
  answered: boolean;
  dead: boolean;
}

export function createQuotaBackends(opts: QuotaBackendOptions): QuotaBackends {
  const idle = new Map<string, Conn[]>();
  const count = new Map<string, number>();
  let closed = false;

  function forget(host: string, conn: Conn): void {
    if (conn.dead) return;
    conn.dead = true;
    const n = (count.get(host) ?? 1) - 1;
    if (n > 0) count.set(host, n);
    else count.delete(host);
    const list = idle.get(host);
    const at = list?.indexOf(conn) ?? -1;
    if (list && at !== -1) {
      list.splice(at, 1);
      if (list.length === 0) idle.delete(host);
    }
  }

  function settle(conn: Conn, answer: BackendAnswer): void {
    const w = conn.waiter;
    conn.waiter = undefined;
    w?.(answer);
  }

  function open(host: string): Conn {
    const socket = connect({ host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    socket.setNoDelay(true);
    const conn: Conn = { socket, waiter: undefined, answered: false, dead: false };
    count.set(host, (count.get(host) ?? 0) + 1);
    const decoder = createPolicyReplyDecoder();
    const end = (reason: BackendFailure, detail: string): void => {
      forget(host, conn);
      socket.destroy();
      settle(conn, { kind: 'failed', reason, detail });
    };
    socket.on('data', (chunk: Buffer) => {
      if (!conn.waiter) return end('protocol', 'backend sent bytes nobody asked for');
      decoder.push(chunk);
      const r = decoder.next();
      if (r === undefined) return;
      if (!r.ok) return end('protocol', r.error.message);
      conn.answered = true;
      settle(conn, { kind: 'action', action: r.value });
      release(host, conn);
    });
    socket.on('error', (err) => end(conn.answered ? 'closed' : 'connect', err.message));
    socket.on('close', () => end('closed', 'backend closed the connection'));
    socket.on('timeout', () => end('closed', 'idle'));
    return conn;
  }

  function release(host: string, conn: Conn): void {
    if (conn.dead) return;
    if (closed) {
      forget(host, conn);
      conn.socket.destroy();
      return;
    }
    conn.socket.setTimeout(opts.idleMs);
    const list = idle.get(host) ?? [];
    list.push(conn);
    idle.set(host, list);
  }

  function take(host: string): Conn | undefined {
    const list = idle.get(host);
    const conn = list?.pop();
    if (list?.length === 0) idle.delete(host);
    conn?.socket.setTimeout(0);
    return conn;
  }

  function send(conn: Conn, request: Buffer, deadline: number): Promise<BackendAnswer> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        conn.socket.destroy();
        settle(conn, { kind: 'failed', reason: 'timeout', detail: 'backend did not answer in time' });
      }, Math.max(0, deadline - Date.now()));
      conn.waiter = (answer) => {
        clearTimeout(timer);
        resolve(answer);
      };
      conn.socket.write(request);
    });
  }

  return {
    async ask(host, request, deadline) {
      if (closed) return { kind: 'failed', reason: 'closed', detail: 'relay is stopping' };
      const pooled = take(host);
      if (pooled) {
        const answer = await send(pooled, request, deadline);
        // Closed under us before any reply: nothing was decided, so ask again on a new connection.
        if (answer.kind === 'action' || answer.reason !== 'closed' || Date.now() >= deadline || closed) return answer;
      }
      if ((count.get(host) ?? 0) >= opts.maxPerBackend) return { kind: 'failed', reason: 'busy', detail: `${opts.maxPerBackend} connections to the backend in use` };
      return send(open(host), request, deadline);
    },
    open: () => [...count.values()].reduce((a, b) => a + b, 0),
    close() {
      closed = true;
      for (const list of [...idle.values()]) for (const c of [...list]) c.socket.destroy();
      idle.clear();
    },
  };
}
