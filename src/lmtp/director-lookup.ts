/**
 * Asks the local Dovecot director which backend serves a user: the same passdb lookup Dovecot's own LMTP
 * proxy makes, over the director's `director-userdb` socket. Every recipient is asked afresh, so the director
 * stays the one authority on where a user lives (moves, flushes and removed backends take effect at once)
 * and keeps counting the user as active. One connection, lookups pipelined by request id.
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
}

/** How often unanswered lookups are checked against their deadline. */
const SWEEP_MS = 250;

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
    const gone = (err?: Error): void => {
      if (socket === s) {
        socket = undefined;
        outgoing = [];
      }
      failAll(err ? `director socket: ${err.message}` : 'director socket closed');
    };
    s.on('error', gone);
    s.on('close', () => gone());
    return s;
  }

  return {
    lookup(user) {
      if (closed) return Promise.resolve({ kind: 'failed', reason: 'router is stopping' });
      socket ??= connect();
      const id = nextId++;
      return new Promise<LookupResult>((resolve) => {
        waiting.set(id, { resolve, deadline: Date.now() + opts.timeoutMs });
        sweeper ??= setInterval(sweep, SWEEP_MS).unref();
        outgoing.push(formatPassLookup(id, user, { service: 'lmtp' }));
        if (!flushQueued) {
          flushQueued = true;
          setImmediate(flush);
        }
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
