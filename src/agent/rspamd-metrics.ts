/**
 * rspamd's own metrics, served by the agent of an `as` instance beside its own: at each scrape of the agent's
 * /metrics, rspamd's controller is asked for `/metrics` (OpenMetrics, behind the controller password, which a
 * scraper could not send), converted to the Prometheus text format and appended. One scrape target per pod.
 *
 * The agent's scrape never fails on rspamd's account: a refused connection, no answer in time, an answer too large
 * or not a 200 leave rspamd's part out, counted in `mailfleet_agent_rspamd_scrape_errors_total` by reason and logged
 * at most once a minute. Scrapes arriving while one fetch is out share it.
 */
import { connect } from 'node:net';
import type { Logger } from '../log.ts';
import { Counter, type Registry } from '../metrics/index.ts';
import { openMetricsToPrometheus, parseHttpResponse } from '../protocol/scrape.ts';

/** The whole fetch (connect, request, answer) must be done within this. */
export const RSPAMD_SCRAPE_TIMEOUT_MS = 2000;
/** rspamd's answer is read up to this many bytes (it is a few KB: counters, actions, Bayes statfiles). */
export const RSPAMD_METRICS_MAX_BYTES = 256 * 1024;
const ERROR_LOG_INTERVAL_MS = 60_000;

/** Why rspamd's part of a scrape is missing or incomplete (see dovecot-metrics.ts for the same reasons). */
export type RspamdScrapeError = 'connect' | 'timeout' | 'oversize' | 'response' | 'invalid_lines';
const REASONS: readonly RspamdScrapeError[] = ['connect', 'timeout', 'oversize', 'response', 'invalid_lines'];

export interface RspamdMetricsOptions {
  /** The controller: the instance's own address and `spec.ports.rspamd`. */
  host: string;
  port: number;
  /** The controller password (`Password:` header); it travels to the instance's own address only. */
  password: string;
  registry: Registry;
  /** Labels every relayed series gets: the agent's `role` and `instance`. */
  labels: Readonly<Record<string, string>>;
  log: Logger;
  timeoutMs?: number;
  maxBytes?: number;
}

type Fetched = { ok: true; bytes: Buffer } | { ok: false; reason: RspamdScrapeError; detail: string };

function fetchMetrics(opts: RspamdMetricsOptions, timeoutMs: number, maxBytes: number): Promise<Fetched> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const socket = connect({ host: opts.host, port: opts.port });
    const finish = (result: Fetched): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => finish({ ok: false, reason: 'timeout', detail: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => {
      socket.write(`GET /metrics HTTP/1.1\r\nHost: ${opts.host}\r\nPassword: ${opts.password}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish({ ok: false, reason: 'oversize', detail: `answer larger than ${maxBytes} bytes` });
      chunks.push(chunk);
    });
    socket.on('end', () => finish(size === 0 ? { ok: false, reason: 'connect', detail: 'closed without an answer' } : { ok: true, bytes: Buffer.concat(chunks) }));
    socket.on('error', (err) => finish({ ok: false, reason: 'connect', detail: err.message }));
    socket.on('close', () => finish({ ok: false, reason: 'connect', detail: 'connection closed before the answer ended' }));
  });
}

/** What `startHealth` appends to /metrics: rspamd's metrics as Prometheus text, or '' when they could not be read. */
export function createRspamdMetricsRelay(opts: RspamdMetricsOptions): () => Promise<string> {
  const timeoutMs = opts.timeoutMs ?? RSPAMD_SCRAPE_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? RSPAMD_METRICS_MAX_BYTES;
  const errors = new Counter({
    name: 'mailfleet_agent_rspamd_scrape_errors_total',
    help: 'Scrapes whose rspamd metrics were left out (connect, timeout, oversize, response) or served in part (invalid_lines).',
    labelNames: ['reason'],
    registers: [opts.registry],
  });
  for (const reason of REASONS) errors.inc({ reason }, 0);
  let unlogged = 0;
  let loggedAt = 0;

  function failed(reason: RspamdScrapeError, detail: string): void {
    errors.inc({ reason });
    unlogged++;
    const now = Date.now();
    if (now - loggedAt < ERROR_LOG_INTERVAL_MS) return;
    opts.log.warn({ reason, detail, failures: unlogged }, 'rspamd metrics not read');
    loggedAt = now;
    unlogged = 0;
  }

  async function scrape(): Promise<string> {
    const fetched = await fetchMetrics(opts, timeoutMs, maxBytes);
    if (!fetched.ok) {
      failed(fetched.reason, fetched.detail);
      return '';
    }
    const response = parseHttpResponse(fetched.bytes);
    if (!response.ok || response.value.status !== 200) {
      failed('response', response.ok ? `HTTP ${response.value.status}` : response.error.message);
      return '';
    }
    const converted = openMetricsToPrometheus(response.value.body.toString('utf8'), { labels: opts.labels, namePrefix: 'rspamd_' });
    if (converted.invalidLines > 0) failed('invalid_lines', `${converted.invalidLines} lines left out`);
    return converted.text;
  }

  let inflight: Promise<string> | undefined;
  return () => {
    inflight ??= scrape().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}
