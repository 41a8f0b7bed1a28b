/**
 * A daemon's own metrics, served by its agent beside the agent's: at each scrape of the agent's /metrics the daemon
 * is asked for `/metrics` over one connection (OpenMetrics), which is converted to the Prometheus text format with
 * the agent's labels and appended. One scrape target per pod.
 *
 * The agent's scrape never fails on the daemon's account: a refused connection, no answer in time, an answer too
 * large or not a 200 leave the daemon's part out, counted in `mailfleet_agent_<daemon>_scrape_errors_total` by
 * reason and logged at most once a minute. Scrapes arriving while one fetch is out share it.
 */
import { connect, type NetConnectOpts } from 'node:net';
import type { Logger } from '../log.ts';
import { Counter, type Registry } from '../metrics/index.ts';
import { openMetricsToPrometheus, parseHttpResponse } from '../protocol/scrape.ts';

/** At most one log line per this interval about failed fetches. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * Why the daemon's part of a scrape is missing or incomplete: the connection was refused, broke or was closed with
 * no answer (`connect`), no answer in time (`timeout`), more than the size bound (`oversize`), not a 200 HTTP answer
 * (`response`); or it was served but lines of it were not valid and were left out (`invalid_lines`).
 */
export type ScrapeError = 'connect' | 'timeout' | 'oversize' | 'response' | 'invalid_lines';
const REASONS: readonly ScrapeError[] = ['connect', 'timeout', 'oversize', 'response', 'invalid_lines'];

/** What every relay of a daemon's figures is given: where they go, with which labels, and its bounds. */
export interface RelayBaseOptions {
  /** The agent's registry: the error counter joins it. */
  registry: Registry;
  /** Labels every relayed series gets: the agent's `role` and `instance`, as its own series carry them. */
  labels: Readonly<Record<string, string>>;
  log: Logger;
  /** The whole exchange must be done within this; each relay has its default. */
  timeoutMs?: number;
  /** The answer is read up to this many bytes; a larger one is dropped. Each relay has its default. */
  maxBytes?: number;
}

export interface MetricsRelayOptions extends RelayBaseOptions {
  /** The daemon in metric names and log lines: `dovecot` (also the prefix of its relayed series), `rspamd`. */
  daemon: string;
  /** The daemon as the counter's help text names it: `Dovecot`. */
  displayName: string;
  /** Where the daemon answers (a unix socket path or a host and port). */
  connectTo: NetConnectOpts;
  /** The whole HTTP request, sent once connected (not half-closed: that may be taken as a client gone). */
  request: string;
  /** Fields the log line about failed fetches carries besides the reason. */
  logFields?: Readonly<Record<string, unknown>>;
  timeoutMs: number;
  maxBytes: number;
}

export type Exchanged<T> = { ok: true; value: T } | { ok: false; reason: Exclude<ScrapeError, 'invalid_lines'>; detail: string };

/**
 * `request` over one connection, the answer read within `timeoutMs` and `maxBytes`: `complete` is asked after every
 * read (and once more, `ended`, when the server closes) whether the answer is whole (`{ value }`), wrong
 * (`{ error }`, a `response` failure) or to be read on (undefined).
 */
export function boundedExchange<T>(
  connectTo: NetConnectOpts,
  request: string,
  bounds: { timeoutMs: number; maxBytes: number },
  complete: (bytes: Buffer, ended: boolean) => { value: T } | { error: string } | undefined,
): Promise<Exchanged<T>> {
  const { timeoutMs, maxBytes } = bounds;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const socket = connect(connectTo);
    const finish = (result: Exchanged<T>): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      socket.destroy();
      resolve(result);
    };
    const judge = (ended: boolean): void => {
      const answer = complete(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), ended);
      if (answer === undefined) return;
      finish('value' in answer ? { ok: true, value: answer.value } : { ok: false, reason: 'response', detail: answer.error });
    };
    const deadline = setTimeout(() => finish({ ok: false, reason: 'timeout', detail: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish({ ok: false, reason: 'oversize', detail: `answer larger than ${maxBytes} bytes` });
      chunks.push(chunk);
      judge(false);
    });
    socket.on('end', () => (size === 0 ? finish({ ok: false, reason: 'connect', detail: 'closed without an answer' }) : judge(true)));
    socket.on('error', (err) => finish({ ok: false, reason: 'connect', detail: err.message }));
    socket.on('close', () => finish({ ok: false, reason: 'connect', detail: 'connection closed before the answer ended' }));
  });
}

/** `request` over one connection that the server closes after its answer. */
function fetchMetrics(opts: MetricsRelayOptions): Promise<Exchanged<Buffer>> {
  return boundedExchange(opts.connectTo, opts.request, opts, (bytes, ended) => (ended ? { value: bytes } : undefined));
}

/**
 * The error side of a relay: `mailfleet_agent_<daemon>_scrape_errors_total{reason}` (every reason present from the
 * start) and a warning at most once a minute with how many failed since the last one.
 */
export function scrapeFailures<R extends string>(opts: {
  daemon: string;
  displayName: string;
  reasons: readonly R[];
  registry: Registry;
  log: Logger;
  logFields?: Readonly<Record<string, unknown>>;
}): (reason: R, detail: string) => void {
  const errors = new Counter({
    name: `mailfleet_agent_${opts.daemon}_scrape_errors_total`,
    help: `Scrapes whose ${opts.displayName} metrics were left out or served in part, by reason (${opts.reasons.join(', ')}).`,
    labelNames: ['reason'],
    registers: [opts.registry],
  });
  for (const reason of opts.reasons) errors.inc({ reason }, 0);
  let unlogged = 0;
  let loggedAt = 0;
  return (reason, detail) => {
    errors.inc({ reason });
    unlogged++;
    const now = Date.now();
    if (now - loggedAt < ERROR_LOG_INTERVAL_MS) return;
    opts.log.warn({ reason, detail, failures: unlogged, ...opts.logFields }, `${opts.daemon} metrics not read`);
    loggedAt = now;
    unlogged = 0;
  };
}

/** Scrapes arriving while one fetch is out share it. */
export function sharedScrape(scrape: () => Promise<string>): () => Promise<string> {
  let inflight: Promise<string> | undefined;
  return () => {
    inflight ??= scrape().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}

/** What `startHealth` appends to /metrics: the daemon's metrics as Prometheus text, or '' when they could not be read. */
export function createMetricsRelay(opts: MetricsRelayOptions): () => Promise<string> {
  const failed = scrapeFailures({ ...opts, reasons: REASONS });

  async function scrape(): Promise<string> {
    const fetched = await fetchMetrics(opts);
    if (!fetched.ok) {
      failed(fetched.reason, fetched.detail);
      return '';
    }
    const response = parseHttpResponse(fetched.value);
    if (!response.ok || response.value.status !== 200) {
      failed('response', response.ok ? `HTTP ${response.value.status}` : response.error.message);
      return '';
    }
    const converted = openMetricsToPrometheus(response.value.body.toString('utf8'), { labels: opts.labels, namePrefix: `${opts.daemon}_` });
    if (converted.invalidLines > 0) failed('invalid_lines', `${converted.invalidLines} lines left out`);
    return converted.text;
  }

  return sharedScrape(scrape);
}
