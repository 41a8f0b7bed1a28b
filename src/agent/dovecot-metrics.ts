/**
 * Dovecot's own metrics, served by the agent of a `proxy` or `mailbox` instance beside its own: at each scrape of
 * the agent's /metrics, Dovecot's stats listener (a root-only unix socket in the instance's run dir, see
 * src/config/dovecot-stats.ts) is asked for its OpenMetrics text, which is converted to the Prometheus text format
 * and appended. One scrape target per pod, nothing new on the network.
 *
 * The agent's scrape never fails on Dovecot's account: no answer within the deadline, a refused connection, an
 * answer too large or not a 200 leave Dovecot's part out, counted in `mailfleet_agent_dovecot_scrape_errors_total`
 * by reason, and logged at most once a minute. Scrapes arriving while one fetch is out share it.
 */
import { connect } from 'node:net';
import type { Logger } from '../log.ts';
import { Counter, type Registry } from '../metrics/index.ts';
import { openMetricsToPrometheus, parseHttpResponse } from '../protocol/scrape.ts';

/** The whole fetch (connect, request, answer) must be done within this. */
export const DOVECOT_SCRAPE_TIMEOUT_MS = 2000;
/** Dovecot's answer is read up to this many bytes; a larger one is dropped. Its metrics here are some 10 to 100 KB. */
export const DOVECOT_METRICS_MAX_BYTES = 1024 * 1024;
/** At most one log line per this interval about failed fetches. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * Why Dovecot's part of a scrape is missing or incomplete: the connection was refused, broke or was closed with no
 * answer (`connect`), no answer in time (`timeout`), more than the size bound (`oversize`), not a 200 HTTP answer
 * (`response`); or it was served but lines of it were not valid and were left out (`invalid_lines`).
 */
export type DovecotScrapeError = 'connect' | 'timeout' | 'oversize' | 'response' | 'invalid_lines';
const REASONS: readonly DovecotScrapeError[] = ['connect', 'timeout', 'oversize', 'response', 'invalid_lines'];

export interface DovecotMetricsOptions {
  /** Dovecot's stats listener (`dovecotStatsSocket`). */
  socketPath: string;
  /** The agent's registry: the error counter joins it. */
  registry: Registry;
  /** Labels every relayed series gets: the agent's `role` and `instance`, as its own series carry them. */
  labels: Readonly<Record<string, string>>;
  log: Logger;
  /** Default DOVECOT_SCRAPE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Default DOVECOT_METRICS_MAX_BYTES. */
  maxBytes?: number;
}

type Fetched = { ok: true; bytes: Buffer } | { ok: false; reason: DovecotScrapeError; detail: string };

/** `GET /metrics` over one connection that the server closes after its answer. */
function fetchMetrics(socketPath: string, timeoutMs: number, maxBytes: number): Promise<Fetched> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const socket = connect({ path: socketPath });
    const finish = (result: Fetched): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => finish({ ok: false, reason: 'timeout', detail: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
    // Not end(): a half-closed request may be taken as a client gone before its answer.
    socket.on('connect', () => {
      socket.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n');
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

/** What `startHealth` appends to /metrics: Dovecot's metrics as Prometheus text, or '' when it could not be read. */
export function createDovecotMetricsRelay(opts: DovecotMetricsOptions): () => Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DOVECOT_SCRAPE_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? DOVECOT_METRICS_MAX_BYTES;
  const errors = new Counter({
    name: 'mailfleet_agent_dovecot_scrape_errors_total',
    help: 'Scrapes whose Dovecot metrics were left out (connect, timeout, oversize, response) or served in part (invalid_lines).',
    labelNames: ['reason'],
    registers: [opts.registry],
  });
  for (const reason of REASONS) errors.inc({ reason }, 0);
  let unlogged = 0;
  let loggedAt = 0;

  function failed(reason: DovecotScrapeError, detail: string): void {
    errors.inc({ reason });
    unlogged++;
    const now = Date.now();
    if (now - loggedAt < ERROR_LOG_INTERVAL_MS) return;
    opts.log.warn({ reason, detail, failures: unlogged, socket: opts.socketPath }, 'dovecot metrics not read');
    loggedAt = now;
    unlogged = 0;
  }

  async function scrape(): Promise<string> {
    const fetched = await fetchMetrics(opts.socketPath, timeoutMs, maxBytes);
    if (!fetched.ok) {
      failed(fetched.reason, fetched.detail);
      return '';
    }
    const response = parseHttpResponse(fetched.bytes);
    if (!response.ok || response.value.status !== 200) {
      failed('response', response.ok ? `HTTP ${response.value.status}` : response.error.message);
      return '';
    }
    const converted = openMetricsToPrometheus(response.value.body.toString('utf8'), { labels: opts.labels, namePrefix: 'dovecot_' });
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
