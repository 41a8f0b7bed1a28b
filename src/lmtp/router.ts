/**
 * The LMTP router of a `proxy` instance. The MTAs deliver to it; for each recipient it asks the local
 * director for the user's backend (exactly as Dovecot's LMTP proxy does) and hands the message to that
 * backend over a pooled LMTP connection. Dovecot 2.3's own LMTP proxy opens a new backend connection for
 * every transaction; keeping them open is what this router is for. IMAP and POP3 stay with Dovecot.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { longestIdle } from '../eviction.ts';
import type { Logger } from '../log.ts';
import type { Registry } from '../metrics/index.ts';
import { listenOn } from '../sockets.ts';
import { createBackendPool, type PoolOptions } from './backend-pool.ts';
import { createDirectorLookup } from './director-lookup.ts';
import { maxBodyBytes, maxSessions } from './limits.ts';
import { registerRouterMetrics } from './metrics.ts';
import { startSession, type Session, type SessionLimits } from './session.ts';

export interface RouterOptions {
  /** Where the MTAs connect. */
  host: string;
  port: number;
  /** Greeting and LHLO name: the instance's name. */
  hostname: string;
  /** The director's `director-userdb` socket. */
  directorSocket: string;
  /** The backends' LMTP port. */
  backendPort: number;
  /** Source address for backend connections, when the instance has its own. */
  localAddress?: string;
  /** The MTAs' `message_size_limit` (the spec's `messageSizeLimit`): the router takes every message they accepted. */
  messageSizeLimit: number;
  /** The proxy pod's memory limit in bytes: the session cap is sized from it (see limits.ts). */
  memoryLimitBytes: number;
  log: Logger;
  /** Where the router's `mailfleet_lmtp_router_*` metrics are registered: the agent's registry. */
  registry: Registry;
  /** Tests shorten limits and deadlines; production takes the defaults below. */
  tuning?: { session?: Partial<SessionLimits>; pool?: Partial<typeof POOL_SETTINGS>; lookupTimeoutMs?: number; maxSessions?: number };
}

export interface Router {
  /**
   * Stops accepting and asks each session to end (421 once its transaction in progress is done). Those still
   * open after `budgetMs` get 421 at once, a message in progress given up, and any left a second later are
   * destroyed: it resolves by then, whatever the clients and backends do.
   */
  close(budgetMs: number): Promise<void>;
}

/** Session limits; Postfix's own LMTP client limits sit well inside them. */
const SESSION_LIMITS: Omit<SessionLimits, 'maxMessageBytes'> = {
  maxLineBytes: 4096,
  maxRecipients: 1000,
  // RFC 5321 section 4.5.3.2: 5 minutes for a command; Postfix sends its body at once after 354.
  commandTimeoutMs: 300_000,
  bodyTimeoutMs: 300_000,
  // A Postfix on the pod network sends megabytes a second; 8 KiB/s held for a whole body deadline is 2.4 MB.
  slotMinBytesPerSecond: 8 * 1024,
  slotGraceMs: 10_000,
  closeGraceMs: 10_000,
};

/**
 * Backend deadlines, set against Postfix's own LMTP client timeouts so that the router answers before Postfix
 * gives up on it. A transaction opens with the message's first part: for a message that comes in one part,
 * the slot wait, connect and the envelope's replies (60 + 5 + 30 s, the last as silence between replies) and
 * 480 s of silence before the final replies fit in lmtp_data_done_timeout (600 s, Postfix waiting for the
 * replies after its last byte); for a longer one the first three pass while Postfix is still sending, within
 * lmtp_data_xfer_timeout (180 s for each of its writes).
 */
const POOL_SETTINGS: Omit<PoolOptions, 'port' | 'heloName' | 'localAddress'> = {
  connectTimeoutMs: 5000,
  replyTimeoutMs: 30_000,
  dataTimeoutMs: 480_000,
  slotWaitMs: 60_000,
  idleMs: 20_000,
  maxAgeMs: 10_000,
  maxActivePerBackend: 6,
};
const LOOKUP_TIMEOUT_MS = 10_000;
/** A session idle this long may be closed to make room for a new client at the session cap. */
const EVICT_IDLE_MS = 2000;
/** After the drain budget and the 421s, how long clients get to read them before their sessions are destroyed. */
const CLOSE_FORCE_MS = 1000;

export async function startLmtpRouter(opts: RouterOptions): Promise<Router> {
  const lookup = createDirectorLookup({ socketPath: opts.directorSocket, timeoutMs: opts.tuning?.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS });
  const limits = { ...SESSION_LIMITS, maxMessageBytes: maxBodyBytes(opts.messageSizeLimit), ...opts.tuning?.session };
  const sessions = new Set<Session>();
  const cap = opts.tuning?.maxSessions ?? maxSessions(opts.memoryLimitBytes);
  // The pool is read by the idle-connections gauge only when scraped, after it exists.
  const metrics = registerRouterMetrics(opts.registry, { sessions: () => sessions.size, sessionLimit: cap, idleConnections: () => pool.idleConnections() });
  const pool = createBackendPool({
    ...POOL_SETTINGS,
    ...opts.tuning?.pool,
    port: opts.backendPort,
    heloName: opts.hostname,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  }, metrics.pool);
  let nextCid = 1;

  /** Beyond the cap: 421 and gone. The socket is destroyed once the reply is handed to the kernel. */
  function refuse(socket: Socket): void {
    metrics.refused();
    socket.on('error', () => {});
    socket.pause();
    socket.end(`421 4.3.2 ${opts.hostname} Too many sessions, try again later\r\n`, () => socket.destroy());
  }

  /**
   * At the cap, the session that has waited longest for its client's next command (at least EVICT_IDLE_MS) makes
   * room: a client holding sessions open and silent would otherwise shut out the MTAs. A session taking a message
   * or waiting on a backend is never chosen.
   */
  function evictIdle(): boolean {
    const found = longestIdle(sessions, EVICT_IDLE_MS, Date.now());
    if (!found) return false;
    opts.log.info({ idleMs: found.idleMs }, 'session cap reached: closing the session idle longest');
    found.item.terminate(`${opts.hostname} Too many sessions; closing an idle one`);
    found.item.destroy();
    metrics.refused();
    return true;
  }

  const server: Server = createServer((socket: Socket) => {
    if (sessions.size >= cap && !evictIdle()) return refuse(socket);
    metrics.session();
    const cid = nextCid++;
    const session = startSession(socket, {
      hostname: opts.hostname,
      lookup,
      pool,
      limits,
      events: metrics,
      log: opts.log.child({ cid, client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }),
    });
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  });
  // One sweep enforces every session's deadlines: no timer per session, none restarted per byte.
  const sweepMs = Math.max(50, Math.min(1000, Math.min(limits.commandTimeoutMs, limits.bodyTimeoutMs, limits.closeGraceMs) / 4));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions) s.tick(now);
  }, sweepMs).unref();
  server.on('error', (err) => opts.log.error({ err: err.message }, 'lmtp router listener error'));
  await listenOn(server, opts.port, opts.host);
  opts.log.info({ listen: `${opts.host}:${opts.port}`, directorSocket: opts.directorSocket, backendPort: opts.backendPort, maxSessions: cap, maxMessageBytes: limits.maxMessageBytes }, 'lmtp router listening');

  return {
    async close(budgetMs) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const text = 'Service shutting down, try again later';
      const allGone = (): Promise<unknown> => Promise.all([...sessions].map((s) => s.closed));
      const within = (ms: number): Promise<unknown> => Promise.race([allGone(), delay(ms, undefined, { ref: false })]);
      for (const s of sessions) s.shutdown(text);
      await within(budgetMs);
      for (const s of sessions) s.terminate(text);
      await within(CLOSE_FORCE_MS);
      for (const s of sessions) s.destroy();
      await stopped;
      clearInterval(sweeper);
      lookup.close();
      pool.close();
      opts.log.info('lmtp router stopped');
    },
  };
}
