/**
 * Dovecot's own metrics, served by the agent of a `proxy` or `mailbox` instance beside its own: Dovecot's stats
 * listener (a root-only unix socket in the instance's run dir, see src/config/dovecot-stats.ts) is asked at each
 * scrape through the agent's metrics relay (metrics-relay.ts: bounded fetch, errors counted in
 * `mailfleet_agent_dovecot_scrape_errors_total`). Nothing new on the network.
 */
import { createMetricsRelay, type RelayBaseOptions, type ScrapeError } from './metrics-relay.ts';

/** The whole fetch (connect, request, answer) must be done within this. */
export const DOVECOT_SCRAPE_TIMEOUT_MS = 2000;
/** Dovecot's answer is read up to this many bytes; a larger one is dropped. Its metrics here are some 10 to 100 KB. */
export const DOVECOT_METRICS_MAX_BYTES = 1024 * 1024;

/** Why Dovecot's part of a scrape is missing or incomplete (see metrics-relay.ts). */
export type DovecotScrapeError = ScrapeError;

/** Bounds default to DOVECOT_SCRAPE_TIMEOUT_MS and DOVECOT_METRICS_MAX_BYTES. */
export interface DovecotMetricsOptions extends RelayBaseOptions {
  /** Dovecot's stats listener (`dovecotStatsSocket`). */
  socketPath: string;
}

/** What `startHealth` appends to /metrics: Dovecot's metrics as Prometheus text, or '' when it could not be read. */
export function createDovecotMetricsRelay(opts: DovecotMetricsOptions): () => Promise<string> {
  return createMetricsRelay({
    daemon: 'dovecot',
    displayName: 'Dovecot',
    connectTo: { path: opts.socketPath },
    request: 'GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n',
    registry: opts.registry,
    labels: opts.labels,
    log: opts.log,
    logFields: { socket: opts.socketPath },
    timeoutMs: opts.timeoutMs ?? DOVECOT_SCRAPE_TIMEOUT_MS,
    maxBytes: opts.maxBytes ?? DOVECOT_METRICS_MAX_BYTES,
  });
}
