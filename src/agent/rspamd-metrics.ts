/**
 * rspamd's own metrics, served by the agent of an `as` instance beside its own: rspamd's controller is asked for
 * `/metrics` at each scrape through the agent's metrics relay (metrics-relay.ts: bounded fetch, errors counted in
 * `mailfleet_agent_rspamd_scrape_errors_total`), with the controller password, which a scraper could not send.
 */
import { createMetricsRelay, type RelayBaseOptions } from './metrics-relay.ts';

/** The whole fetch (connect, request, answer) must be done within this. */
export const RSPAMD_SCRAPE_TIMEOUT_MS = 2000;
/** rspamd's answer is read up to this many bytes (it is a few KB: counters, actions, Bayes statfiles). */
export const RSPAMD_METRICS_MAX_BYTES = 256 * 1024;

/** Bounds default to RSPAMD_SCRAPE_TIMEOUT_MS and RSPAMD_METRICS_MAX_BYTES. */
export interface RspamdMetricsOptions extends RelayBaseOptions {
  /** The controller: the instance's own address and `spec.ports.rspamd`. */
  host: string;
  port: number;
  /** The controller password (`Password:` header); it travels to the instance's own address only. */
  password: string;
}

/** What `startHealth` appends to /metrics: rspamd's metrics as Prometheus text, or '' when they could not be read. */
export function createRspamdMetricsRelay(opts: RspamdMetricsOptions): () => Promise<string> {
  return createMetricsRelay({
    daemon: 'rspamd',
    displayName: 'rspamd',
    connectTo: { host: opts.host, port: opts.port },
    request: `GET /metrics HTTP/1.1\r\nHost: ${opts.host}\r\nPassword: ${opts.password}\r\nConnection: close\r\n\r\n`,
    registry: opts.registry,
    labels: opts.labels,
    log: opts.log,
    timeoutMs: opts.timeoutMs ?? RSPAMD_SCRAPE_TIMEOUT_MS,
    maxBytes: opts.maxBytes ?? RSPAMD_METRICS_MAX_BYTES,
  });
}
