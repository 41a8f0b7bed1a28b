/**
 * Asks the local Dovecot director which backend serves a user: the same passdb lookup Dovecot's own LMTP
 * proxy makes, over the director's `director-userdb` socket. Every recipient is asked afresh, so the director
 * stays the one authority on where a user lives (moves, flushes and removed backends take effect at once)
 * and keeps counting the user as active. One connection, lookups pipelined by request id; a lookup whose
 * connection ends before it is answered goes out once more on a new one.
 */
import { createConnection, type Socket } from 'node:net';
import { AUTH_MASTER_HANDSHAKE, createLineSplitter, formatPassLookup, parseAuthMasterReply } from '../protocol/index.ts';
import { readInto } from './read-buffer.ts';

export type LookupResult =
  | { readonly kind: 'backend'; readonly host: string }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'failed'; readonly reason: string };

export interface BackendLookup {
  lookup(user: string): Promise<LookupResult>;
  close(): void;
}

interface Waiting {
  resolve: (r: LookupResult) => void;
  deadline: number;
  /** The connection the lookup went out on: only its end can fail the lookup. */
  socket: Socket;
  user: string;
  /** Sent again once already, after its first connection ended. */
  retried: boolean;
}

/** How often unanswered lookups are checked against their deadline. */
const SWEEP_MS = 250;
/**
 * A lookup whose connection ended before its answer goes out again once, this much later, on a new connection.
 * A Dovecot reload (a renewed certificate, peers that moved) re-creates the director's sockets and ends the
 * old processes' connections; a moment later the new ones answer.
 */
export const LOOKUP_RETRY_MS = 200;

export function createDirectorLookup(opts: { socketPath: string; timeoutMs: number }): BackendLookup {
  let socket: Socket | undefined;
  let nextId = 1;
  let closed = false;
  const waiting = new Map<number, Waiting>();
  /** One timer for all lookups in flight, instead of one per lookup. */
  let sweeper: NodeJS.Timeout | undefined;
  // Lookups asked while the event loop serves a batch of sockets go out in one write.
  let outgoing: string[] = [];
  let flushQueued = false;

  function flush(): void {
    flushQueued = false;
    const lines = outgoing;
    outgoing = [];
    if (lines.length > 0 && socket) socket.write(lines.join(''));
  }

  function sweep(): void {
    const now = Date.now();
    let late = false;
    for (const [id, w] of waiting) {
      if (w.deadline > now) continue;
      late = true;
      settle(id, { kind: 'failed', reason: `director did not answer within ${opts.timeoutMs} ms` });
    }
    // A director this slow is stuck on this connection: start afresh for the next lookup.
    if (late && socket) {
      const s = socket;
      socket = undefined;
      outgoing = [];
      s.destroy();
    }
  }

  function settle(id: number, result: LookupResult): void {
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    w.resolve(result);
    if (waiting.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function failAll(reason: string): void {
    for (const id of [...waiting.keys()]) settle(id, { kind: 'failed', reason });
  }

  /** Queues the lookup on the current connection (a new one when there is none). */
  function send(id: number, w: Waiting): void {
    w.socket = socket ??= connect();
    outgoing.push(formatPassLookup(id, w.user, { service: 'lmtp' }));
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  }

  /**
   * The lookups sent on `on`, which ended: each goes again once on a new connection, or fails. A replaced
   * connection closing leaves the new one's alone.
   */
  function retryAll(reason: string, on: Socket): void {
    for (const [id, w] of [...waiting]) {
      if (w.socket !== on) continue;
      if (w.retried || closed) {
        settle(id, { kind: 'failed', reason });
        continue;
      }
      w.retried = true;
      setTimeout(() => {
        // Answered, timed out or given up meanwhile: nothing to send.
        if (waiting.get(id) !== w || closed) return;
        send(id, w);
      }, LOOKUP_RETRY_MS).unref();
    }
  }

  function connect(): Socket {
    const lines = createLineSplitter();
    const onAnswers = (chunk: Buffer): void => {
      for (const line of lines.push(chunk)) {
        if (!line.ok) continue;
        const reply = parseAuthMasterReply(line.value);
        if (!reply.ok || reply.value.kind === 'info') continue;
        const r = reply.value;
        if (r.kind === 'notfound') settle(r.id, { kind: 'unknown' });
        else if (r.kind === 'fail') settle(r.id, { kind: 'failed', reason: r.reason });
        else {
          const host = r.fields.host ?? r.fields.hostip;
          settle(r.id, host ? { kind: 'backend', host } : { kind: 'failed', reason: 'director answered without a backend' });
        }
      }
    };
    const s = createConnection({ path: opts.socketPath, onread: readInto(16 * 1024, onAnswers) });
    s.write(AUTH_MASTER_HANDSHAKE);
    let ended = false;
    // 'error' and then 'close': the lookups on it are handled once.
    const gone = (err?: Error): void => {
      if (ended) return;
      ended = true;
      if (socket === s) {
        socket = undefined;
        outgoing = [];
      }
      retryAll(err ? `director socket: ${err.message}` : 'director socket closed', s);
    };
    s.on('error', gone);
    s.on('close', () => gone());
    return s;
  }

  return {
    lookup(user) {
      if (closed) return Promise.resolve({ kind: 'failed', reason: 'router is stopping' });
      const id = nextId++;
      return new Promise<LookupResult>((resolve) => {
        const w: Waiting = { resolve, deadline: Date.now() + opts.timeoutMs, socket: (socket ??= connect()), user, retried: false };
        waiting.set(id, w);
        sweeper ??= setInterval(sweep, SWEEP_MS).unref();
        send(id, w);
      });
    },
    close() {
      closed = true;
      failAll('router is stopping');
      socket?.destroy();
      socket = undefined;
    },
  };
}
