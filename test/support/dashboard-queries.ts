/**
 * Every PromQL expression of the Grafana dashboards, taken from their JSON (targets of every panel,
 * rows' inner panels too, and the series selector of every label variable), and made runnable outside
 * Grafana: template variables become the regex that matches everything, Grafana's interval macros a
 * fixed window. Then run on a VictoriaMetrics: does each parse, and does each find series on a live
 * platform (`emptyQueries`, for any test that has one running with its prober).
 */

export interface DashboardQuery {
  /** File name of the dashboard. */
  file: string;
  /** Panel title and refId, or `variable <name>`. */
  where: string;
  /** The expression as written in the dashboard. */
  expr: string;
}

interface Target {
  expr?: unknown;
  refId?: unknown;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}

interface DashboardJson {
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; query?: unknown }[] };
}

/** `label_values(selector, label)`: the selector is what must parse and find series. */
const LABEL_VALUES = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s;

function panelsOf(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Every query of every dashboard in `files` (file name → JSON text). */
export function dashboardQueries(files: Record<string, string>): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const [file, text] of Object.entries(files)) {
    const d = JSON.parse(text) as DashboardJson;
    for (const p of panelsOf(d.panels ?? [])) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr !== 'string') throw new Error(`${file}: panel ${p.title ?? '?'} target ${String(t.refId)} has no expr`);
        out.push({ file, where: `${p.title ?? '?'} ${String(t.refId)}`, expr: t.expr });
      }
    }
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const m = typeof v.query === 'string' ? LABEL_VALUES.exec(v.query) : null;
      if (!m?.[1]) throw new Error(`${file}: variable ${v.name} is not label_values(selector, label): ${JSON.stringify(v.query)}`);
      out.push({ file, where: `variable ${v.name}`, expr: m[1] });
    }
  }
  return out;
}

export interface Substitution {
  /** What `$__rate_interval` and `$__interval` become. Default `1m`. */
  interval?: string;
}

/** Grafana's own variables that a dashboard may use, and what they stand for here. */
const BUILT_INS = new Set(['__rate_interval', '__interval', '__range']);
const VARIABLE = /\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]/g;

/**
 * `expr` as VictoriaMetrics can run it: Grafana's interval macros become `interval`, every dashboard
 * variable `.*` (all values, and no value: the dashboards use variables only in `=~` matchers).
 */
export function substitute(expr: string, opts: Substitution = {}): string {
  const interval = opts.interval ?? '1m';
  return expr.replace(VARIABLE, (_all, braced?: string, bare?: string, old?: string) => {
    const name = braced ?? bare ?? old ?? '';
    if (name === '__range') return '1h';
    if (BUILT_INS.has(name)) return interval;
    if (name.startsWith('__')) throw new Error(`unknown Grafana variable $${name} in ${expr}`);
    return '.*';
  });
}

/**
 * Uses of dashboard variables (not Grafana's built-ins) that are not the whole value of a `=~"..."`
 * matcher: there `.*` would not stand for "every value".
 */
export function variablesOutsideRegexMatchers(expr: string): string[] {
  const inMatchers = expr.replace(/=~"\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?"/g, '=~""');
  return [...inMatchers.matchAll(VARIABLE)].map((m) => m[0]).filter((v) => !/^\$\{?__/.test(v));
}

/** Metric names an expression reads (a histogram's `_bucket`, `_sum` and `_count` as the histogram). */
export function metricNames(expr: string): string[] {
  const names = [...expr.matchAll(/\b((?:mailfleet|dovecot|rspamd)_[a-z0-9_]+)\b/g)].map((m) => (m[1] ?? '').replace(/_(bucket|sum|count)$/, ''));
  return [...new Set(names)].sort();
}

const QUERY_TIMEOUT_MS = 10_000;

/**
 * The window `$__rate_interval` stands for on a live platform: its whole life, so that a rare event (a
 * probe cycle) is in it. VictoriaMetrics leaves NaN out of its answers, so a quantile of a histogram
 * with no observation in the window is no series at all.
 */
const LIVE_INTERVAL = '1h';

/**
 * Metrics whose series appear only after an event the live run does not cause (the probe's mail is
 * accepted, delivered inside the platform and fetched, and nothing fails; the queues are empty). A query reading one of them
 * may return nothing there. Unlabelled counters are not listed: they are exported at 0 from the start.
 */
export const EVENT_ONLY_METRICS: Readonly<Record<string, string>> = {
  mailfleet_postfix_smtpd_rejects_total: 'a rejected SMTP command',
  mailfleet_postfix_smtpd_connections_lost_total: 'a client gone in the middle of a dialogue',
  mailfleet_postfix_deferred_total: 'a deferred delivery',
  mailfleet_postfix_bounced_total: 'a bounce',
  mailfleet_postfix_smtp_tls_connections_total: 'a delivery out of the platform over SMTP',
  mailfleet_postfix_log_lines_unsupported_total: 'a Postfix log line the exporter does not classify',
  dovecot_auth_failure_total: 'a failed login',
  mailfleet_probe_failures_total: 'a failed probe stage',
  mailfleet_backends_errors_total: 'a reconcile error',
  mailfleet_postfix_milter_failures_total: 'a milter Postfix cannot ask',
  mailfleet_postfix_postscreen_rejects_total: 'a client postscreen refuses',
  mailfleet_postfix_dnsbl_listings_total: 'a client a DNS blocklist lists',
  // Histograms of the messages in a queue when it is read: all buckets 0 while the queues are empty, and a
  // quantile of nothing is no series.
  mailfleet_postfix_queue_message_age_seconds: 'a message waiting in a queue when the agent reads it',
  mailfleet_postfix_queue_message_size_bytes: 'a message waiting in a queue when the agent reads it',
};

/**
 * A query scoped to the filter roles only (`role="as"`, `role=~"as|av"`): the live run starts neither rspamd nor
 * clamd (they would need their own resolver and signature set), so such a query may return nothing there.
 */
export const FILTER_ROLES_ONLY = /\brole=~?"(?:as|av)(?:\|(?:as|av))*"/;

export interface VmAnswer {
  status: string;
  error?: string;
  data?: { result: unknown[] };
}

/** An instant query on the VictoriaMetrics (or Prometheus) at `url`. */
export async function vmQuery(url: string, expr: string): Promise<VmAnswer> {
  const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });
  return (await res.json()) as VmAnswer;
}

const label = (q: DashboardQuery): string => `${q.file} / ${q.where}`;

/** The queries VictoriaMetrics at `url` refuses, each with its error. */
export async function unparsedQueries(url: string, queries: readonly DashboardQuery[]): Promise<string[]> {
  const failures: string[] = [];
  for (const q of queries) {
    const answer = await vmQuery(url, substitute(q.expr));
    if (answer.status !== 'success') failures.push(`${label(q)}: ${answer.error ?? JSON.stringify(answer)}`);
  }
  return failures;
}

/**
 * The queries that find no series (or fail) in VictoriaMetrics at `url`, except those reading a metric
 * of `eventOnly`. Run it on the VictoriaMetrics of a live platform after the prober has run.
 */
export async function emptyQueries(url: string, queries: readonly DashboardQuery[], eventOnly: Readonly<Record<string, string>> = EVENT_ONLY_METRICS): Promise<string[]> {
  const failures: string[] = [];
  for (const q of queries) {
    if (metricNames(q.expr).some((m) => m in eventOnly) || FILTER_ROLES_ONLY.test(q.expr)) continue;
    const answer = await vmQuery(url, substitute(q.expr, { interval: LIVE_INTERVAL }));
    if (answer.status !== 'success') failures.push(`${label(q)}: ${answer.error ?? JSON.stringify(answer)}`);
    else if ((answer.data?.result.length ?? 0) === 0) failures.push(`${label(q)}: no series for ${q.expr}`);
  }
  return failures;
}

