/**
 * The LMTP router of a `proxy` instance. The MTAs deliver to it; for each recipient it asks the local
 * director for the user's backend (exactly as Dovecot's LMTP proxy does) and hands the message to that
 * backend over a pooled LMTP connection. Dovecot 2.3's own LMTP proxy opens a new backend connection for
 * every transaction; keeping them open is what this router is for. IMAP and POP3 stay with Dovecot.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import type { LmtpReply } from '../protocol/index.ts';
import { createBackendPool, type PoolOptions } from './backend-pool.ts';
import { createDirectorLookup } from './director-lookup.ts';
import { maxBodyBytes, maxSessions } from './limits.ts';
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
  /** Tests shorten limits and deadlines; production takes the defaults below. */
  tuning?: { session?: Partial<SessionLimits>; pool?: Partial<typeof POOL_SETTINGS>; lookupTimeoutMs?: number; maxSessions?: number };
}

export interface Router {
  /** Prometheus text lines for the agent's /metrics. */
  metrics(labels: string): string;
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
  closeGraceMs: 10_000,
};

/**
 * Backend deadlines, set against Postfix's own LMTP client timeouts so that the router answers before Postfix
 * gives up on it: the slot wait, connect and the envelope's replies (60 + 5 + 30 s, the last as silence
 * between replies) fit in lmtp_data_init_timeout (120 s, Postfix waiting for the reply to DATA), and 540 s
 * of silence before the final replies in lmtp_data_done_timeout (600 s).
 */
const POOL_SETTINGS: Omit<PoolOptions, 'port' | 'heloName' | 'localAddress'> = {
  connectTimeoutMs: 5000,
  replyTimeoutMs: 30_000,
  dataTimeoutMs: 540_000,
  slotWaitMs: 60_000,
  idleMs: 20_000,
  maxActivePerBackend: 6,
};
const LOOKUP_TIMEOUT_MS = 10_000;
/** After the drain budget and the 421s, how long clients get to read them before their sessions are destroyed. */
const CLOSE_FORCE_MS = 1000;

export async function startLmtpRouter(opts: RouterOptions): Promise<Router> {
  const lookup = createDirectorLookup({ socketPath: opts.directorSocket, timeoutMs: opts.tuning?.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS });
  const limits = { ...SESSION_LIMITS, maxMessageBytes: maxBodyBytes(opts.messageSizeLimit), ...opts.tuning?.session };
  const pool = createBackendPool({
    ...POOL_SETTINGS,
    ...opts.tuning?.pool,
    port: opts.backendPort,
    heloName: opts.hostname,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  const sessions = new Set<Session>();
  const cap = opts.tuning?.maxSessions ?? maxSessions(opts.memoryLimitBytes);
  const counts = {
    sessions: 0,
    refused: 0,
    recipients: { accepted: 0, unknown: 0, lookup_failed: 0 },
    replies: { delivered: 0, deferred: 0, rejected: 0 },
    bytes: 0,
  };
  const events = {
    recipient: (result: 'accepted' | 'unknown' | 'lookup_failed') => void counts.recipients[result]++,
    delivered(replies: readonly LmtpReply[], bytes: number) {
      for (const r of replies) counts.replies[r.code < 300 ? 'delivered' : r.code < 500 ? 'deferred' : 'rejected']++;
      counts.bytes += bytes;
    },
  };
  let nextCid = 1;

  /** Beyond the cap: 421 and gone. The socket is destroyed once the reply is handed to the kernel. */
  function refuse(socket: Socket): void {
    counts.refused++;
    socket.on('error', () => {});
    socket.pause();
    socket.end(`421 4.3.2 ${opts.hostname} Too many sessions, try again later\r\n`, () => socket.destroy());
  }

  const server: Server = createServer((socket: Socket) => {
    if (sessions.size >= cap) return refuse(socket);
    counts.sessions++;
    const cid = nextCid++;
    const session = startSession(socket, {
      hostname: opts.hostname,
      lookup,
      pool,
      limits,
      events,
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  opts.log.info({ listen: `${opts.host}:${opts.port}`, directorSocket: opts.directorSocket, backendPort: opts.backendPort, maxSessions: cap, maxMessageBytes: limits.maxMessageBytes }, 'lmtp router listening');

  return {
    metrics(labels) {
      const pc = pool.counters();
      const lines = [
        '# HELP mailfleet_lmtp_router_sessions_total LMTP sessions the router accepted.',
        '# TYPE mailfleet_lmtp_router_sessions_total counter',
        `mailfleet_lmtp_router_sessions_total{${labels}} ${counts.sessions}`,
        '# HELP mailfleet_lmtp_router_sessions_refused_total LMTP connections told 421 because the router was at its session cap.',
        '# TYPE mailfleet_lmtp_router_sessions_refused_total counter',
        `mailfleet_lmtp_router_sessions_refused_total{${labels}} ${counts.refused}`,
        '# HELP mailfleet_lmtp_router_session_limit The router\'s session cap, sized from the pod\'s memory limit.',
        '# TYPE mailfleet_lmtp_router_session_limit gauge',
        `mailfleet_lmtp_router_session_limit{${labels}} ${cap}`,
        '# HELP mailfleet_lmtp_router_sessions Open LMTP client sessions.',
        '# TYPE mailfleet_lmtp_router_sessions gauge',
        `mailfleet_lmtp_router_sessions{${labels}} ${sessions.size}`,
        '# HELP mailfleet_lmtp_router_recipients_total RCPT commands by director lookup result.',
        '# TYPE mailfleet_lmtp_router_recipients_total counter',
        ...Object.entries(counts.recipients).map(([k, v]) => `mailfleet_lmtp_router_recipients_total{${labels},result="${k}"} ${v}`),
        '# HELP mailfleet_lmtp_router_deliveries_total Final per-recipient replies after DATA, by outcome.',
        '# TYPE mailfleet_lmtp_router_deliveries_total counter',
        ...Object.entries(counts.replies).map(([k, v]) => `mailfleet_lmtp_router_deliveries_total{${labels},result="${k}"} ${v}`),
        '# HELP mailfleet_lmtp_router_message_bytes_total Message bytes received for delivery.',
        '# TYPE mailfleet_lmtp_router_message_bytes_total counter',
        `mailfleet_lmtp_router_message_bytes_total{${labels}} ${counts.bytes}`,
        '# HELP mailfleet_lmtp_router_backend_connections_total Backend connections opened, reused from the pool, or failed.',
        '# TYPE mailfleet_lmtp_router_backend_connections_total counter',
        `mailfleet_lmtp_router_backend_connections_total{${labels},event="opened"} ${pc.opened}`,
        `mailfleet_lmtp_router_backend_connections_total{${labels},event="reused"} ${pc.reused}`,
        `mailfleet_lmtp_router_backend_connections_total{${labels},event="failed"} ${pc.failed}`,
        '# HELP mailfleet_lmtp_router_backend_queued_total Transactions that waited for a free slot at their backend.',
        '# TYPE mailfleet_lmtp_router_backend_queued_total counter',
        `mailfleet_lmtp_router_backend_queued_total{${labels}} ${pc.queued}`,
        '# HELP mailfleet_lmtp_router_backend_slot_timeouts_total Transactions that found no free slot at their backend in time (451).',
        '# TYPE mailfleet_lmtp_router_backend_slot_timeouts_total counter',
        `mailfleet_lmtp_router_backend_slot_timeouts_total{${labels}} ${pc.slotTimeouts}`,
        '# HELP mailfleet_lmtp_router_backend_retries_total Envelopes sent again on a new connection because a pooled one was closed under them.',
        '# TYPE mailfleet_lmtp_router_backend_retries_total counter',
        `mailfleet_lmtp_router_backend_retries_total{${labels}} ${pc.retried}`,
        '# HELP mailfleet_lmtp_router_backend_idle_connections Idle pooled backend connections.',
        '# TYPE mailfleet_lmtp_router_backend_idle_connections gauge',
        `mailfleet_lmtp_router_backend_idle_connections{${labels}} ${pool.idleConnections()}`,
        '',
      ];
      return lines.join('\n');
    },
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
