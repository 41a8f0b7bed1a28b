import type { LmtpReply } from '../protocol/index.ts';
import { Counter, Gauge, type Registry } from '../metrics/index.ts';
import type { PoolEvent } from './backend-pool.ts';

/** What the router reads when it is scraped. */
export interface RouterReadings {
  /** Open client sessions. */
  sessions: () => number;
  /** The session cap. */
  sessionLimit: number;
  /** Idle pooled backend connections. */
  idleConnections: () => number;
}

export type RecipientResult = 'accepted' | 'unknown' | 'lookup_failed';

/** The router's counters; the gauges read {@link RouterReadings} at each scrape. */
export interface RouterMetrics {
  session: () => void;
  refused: () => void;
  recipient: (result: RecipientResult) => void;
  /** The final replies after DATA, and the message's size. */
  delivered: (replies: readonly LmtpReply[], bytes: number) => void;
  pool: (event: PoolEvent) => void;
}

/** A counter whose label values are all exported from the start, at 0. */
function counter<L extends string>(registry: Registry, name: string, help: string, label?: { name: L; values: readonly string[] }): Counter<L> {
  const c = new Counter<L>({ name, help, labelNames: label ? [label.name] : [], registers: [registry] });
  if (label) for (const value of label.values) c.inc({ [label.name]: value } as Partial<Record<L, string>>, 0);
  return c;
}

function gauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** Registers the metrics of one LMTP router in `registry` (the agent's). */
export function registerRouterMetrics(registry: Registry, read: RouterReadings): RouterMetrics {
  const sessions = counter(registry, 'mailfleet_lmtp_router_sessions_total', 'LMTP sessions the router accepted.');
  const refused = counter(registry, 'mailfleet_lmtp_router_sessions_refused_total', 'LMTP connections told 421 because the router was at its session cap.');
  gauge(registry, 'mailfleet_lmtp_router_session_limit', 'The router\'s session cap, sized from the pod\'s memory limit.', () => read.sessionLimit);
  gauge(registry, 'mailfleet_lmtp_router_sessions', 'Open LMTP client sessions.', read.sessions);
  const recipients = counter(registry, 'mailfleet_lmtp_router_recipients_total', 'RCPT commands by director lookup result.', { name: 'result', values: ['accepted', 'unknown', 'lookup_failed'] });
  const deliveries = counter(registry, 'mailfleet_lmtp_router_deliveries_total', 'Final per-recipient replies after DATA, by outcome.', { name: 'result', values: ['delivered', 'deferred', 'rejected'] });
  const bytes = counter(registry, 'mailfleet_lmtp_router_message_bytes_total', 'Message bytes received for delivery.');
  const connections = counter(registry, 'mailfleet_lmtp_router_backend_connections_total', 'Backend connections opened, reused from the pool, or failed.', { name: 'event', values: ['opened', 'reused', 'failed'] });
  const queued = counter(registry, 'mailfleet_lmtp_router_backend_queued_total', 'Transactions that waited for a free slot at their backend.');
  const slotTimeouts = counter(registry, 'mailfleet_lmtp_router_backend_slot_timeouts_total', 'Transactions that found no free slot at their backend in time (451).');
  const retries = counter(registry, 'mailfleet_lmtp_router_backend_retries_total', 'Envelopes sent again on a new connection because a pooled one was closed under them.');
  gauge(registry, 'mailfleet_lmtp_router_backend_idle_connections', 'Idle pooled backend connections.', read.idleConnections);
  return {
    session: () => sessions.inc(),
    refused: () => refused.inc(),
    recipient: (result) => recipients.inc({ result }),
    delivered: (replies, size) => {
      for (const r of replies) deliveries.inc({ result: r.code < 300 ? 'delivered' : r.code < 500 ? 'deferred' : 'rejected' });
      bytes.inc(size);
    },
    pool: (event) => {
      if (event === 'queued') queued.inc();
      else if (event === 'slot_timeout') slotTimeouts.inc();
      else if (event === 'retried') retries.inc();
      else connections.inc({ event });
    },
  };
}
