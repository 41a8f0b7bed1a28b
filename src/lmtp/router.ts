/**
 * The LMTP router of a `proxy` instance. The MTAs deliver to it; for each recipient it asks the local
 * director for the user's backend (exactly as Dovecot's LMTP proxy does) and hands the message to that
 * backend over a pooled LMTP connection. Dovecot 2.3's own LMTP proxy opens a new backend connection for
 * every transaction; keeping them open is what this router is for. IMAP and POP3 stay with Dovecot.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.ts';
import type { LmtpReply } from '../protocol/index.ts';
import { createBackendPool, type PoolOptions } from './backend-pool.ts';
import { createDirectorLookup } from './director-lookup.ts';
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
  log: Logger;
}

export interface Router {
  /** Prometheus text lines for the agent's /metrics. */
  metrics(labels: string): string;
  /**
   * Stops accepting, lets sessions end on their own until `graceMs`, then says 421 to each (a session in a
   * transaction finishes it first) and resolves when all are gone.
   */
  close(graceMs: number): Promise<void>;
}

/** Session limits; Postfix's own LMTP client limits sit well inside them. */
const SESSION_LIMITS: SessionLimits = {
  maxLineBytes: 4096,
  // Above the mta's message_size_limit (50 MiB): a message Postfix accepted is never refused for size here.
  maxMessageBytes: 64 * 1024 * 1024,
  maxRecipients: 1000,
  idleTimeoutMs: 300_000,
};

const POOL_SETTINGS: Omit<PoolOptions, 'port' | 'heloName' | 'localAddress'> = {
  connectTimeoutMs: 5000,
  replyTimeoutMs: 60_000,
  dataTimeoutMs: 600_000,
  idleMs: 20_000,
  maxActivePerBackend: 6,
};
const LOOKUP_TIMEOUT_MS = 10_000;

export async function startLmtpRouter(opts: RouterOptions): Promise<Router> {
  const lookup = createDirectorLookup({ socketPath: opts.directorSocket, timeoutMs: LOOKUP_TIMEOUT_MS });
  const pool = createBackendPool({
    ...POOL_SETTINGS,
    port: opts.backendPort,
    heloName: opts.hostname,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  const sessions = new Set<Session>();
  const counts = {
    sessions: 0,
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

  const server: Server = createServer((socket: Socket) => {
    counts.sessions++;
    const cid = nextCid++;
    const session = startSession(socket, {
      hostname: opts.hostname,
      lookup,
      pool,
      limits: SESSION_LIMITS,
      events,
      log: opts.log.child({ cid, client: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}` }),
    });
    sessions.add(session);
    void session.closed.then(() => sessions.delete(session));
  });
  server.on('error', (err) => opts.log.error({ err: err.message }, 'lmtp router listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  opts.log.info({ listen: `${opts.host}:${opts.port}`, directorSocket: opts.directorSocket, backendPort: opts.backendPort }, 'lmtp router listening');

  return {
    metrics(labels) {
      const pc = pool.counters();
      const lines = [
        '# HELP mailfleet_lmtp_router_sessions_total LMTP sessions the router accepted.',
        '# TYPE mailfleet_lmtp_router_sessions_total counter',
        `mailfleet_lmtp_router_sessions_total{${labels}} ${counts.sessions}`,
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
        '# HELP mailfleet_lmtp_router_backend_idle_connections Idle pooled backend connections.',
        '# TYPE mailfleet_lmtp_router_backend_idle_connections gauge',
        `mailfleet_lmtp_router_backend_idle_connections{${labels}} ${pool.idleConnections()}`,
        '',
      ];
      return lines.join('\n');
    },
    async close(graceMs) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs).unref();
      });
      await Promise.race([Promise.all([...sessions].map((s) => s.closed)), graceOver]);
      clearTimeout(timer);
      for (const s of sessions) s.shutdown('Service shutting down, try again later');
      await Promise.all([...sessions].map((s) => s.closed));
      await stopped;
      lookup.close();
      pool.close();
      opts.log.info('lmtp router stopped');
    },
  };
}
