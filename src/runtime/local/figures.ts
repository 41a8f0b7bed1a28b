/**
 * A few live figures per role for `mailfleet status`, asked of VictoriaMetrics with a short deadline. A figure
 * nobody exports yet, a query that fails or a VictoriaMetrics that does not answer gives `null` (shown as `-`):
 * status never fails for want of metrics.
 */

/** What `status` shows per role; `null`: no series (yet), or VictoriaMetrics did not answer. */
export interface RoleFigures {
  role: string;
  /** Targets of the role whose last scrape succeeded. */
  scrapedUp: number | null;
  /** Targets of the role VictoriaMetrics scrapes. */
  scrapeTargets: number | null;
  /** Messages in the role's Postfix queues, every queue summed. */
  queueMessages: number | null;
  /** Deliveries per minute over the last 5 minutes: Postfix `sent`, the LMTP router's `delivered`. */
  deliveriesPerMinute: number | null;
  /** Mean of the synthetic probe's submit-to-fetch duration over the last 5 minutes. */
  probeLatencySeconds: number | null;
}

export interface FiguresReport {
  roles: RoleFigures[];
  /** Why every figure is missing (VictoriaMetrics down or slow); absent when it answered. */
  error?: string;
}

type Figure = Exclude<keyof RoleFigures, 'role'>;

/** One instant query per figure, each summed by role. */
export const FIGURE_QUERIES: Readonly<Record<Figure, string>> = {
  scrapedUp: 'sum by (role) (up)',
  scrapeTargets: 'count by (role) (up)',
  queueMessages: 'sum by (role) (mailfleet_postfix_queue_messages)',
  deliveriesPerMinute:
    'sum by (role) (rate(mailfleet_postfix_deliveries_total{status="sent"}[5m]) * 60)'
    + ' or sum by (role) (rate(mailfleet_lmtp_router_deliveries_total{result="delivered"}[5m]) * 60)',
  probeLatencySeconds: 'sum by (role) (rate(mailfleet_probe_duration_seconds_sum[5m])) / sum by (role) (rate(mailfleet_probe_duration_seconds_count[5m]))',
};

/** Total time `status` waits for every query together. */
export const FIGURES_DEADLINE_MS = 1500;
/** An answer larger than this is not a per-role sum: it is refused unread. */
export const MAX_ANSWER_BYTES = 256 * 1024;
const MAX_ROLE_LENGTH = 64;

/**
 * A Prometheus instant-query answer (`/api/v1/query`, result type vector) as value by `role` label. Anything
 * else (an error answer, another shape, a role that is not a short printable name, a value that is not a
 * finite number) gives undefined or is left out: the figure then shows `-`.
 */
export function parseRoleVector(text: string): Map<string, number> | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { status, data } = body as { status?: unknown; data?: unknown };
  if (status !== 'success' || typeof data !== 'object' || data === null) return undefined;
  const { resultType, result } = data as { resultType?: unknown; result?: unknown };
  if (resultType !== 'vector' || !Array.isArray(result)) return undefined;
  const out = new Map<string, number>();
  for (const sample of result as unknown[]) {
    if (typeof sample !== 'object' || sample === null) continue;
    const { metric, value } = sample as { metric?: unknown; value?: unknown };
    const role = typeof metric === 'object' && metric !== null ? (metric as { role?: unknown }).role : undefined;
    if (typeof role !== 'string' || role.length === 0 || role.length > MAX_ROLE_LENGTH || !/^[\x21-\x7e]+$/.test(role)) continue;
    if (!Array.isArray(value) || value.length !== 2 || typeof value[1] !== 'string') continue;
    const n = Number(value[1]);
    if (value[1].trim() === '' || !Number.isFinite(n)) continue;
    out.set(role, n);
  }
  return out;
}

/** The body of one GET, at most {@link MAX_ANSWER_BYTES}; throws on a non-2xx answer or a larger body. */
async function boundedGet(url: string, signal: AbortSignal): Promise<string> {
  const res = await fetch(url, { signal });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    // Leaving the loop cancels the stream: the rest is never read.
    if (size > MAX_ANSWER_BYTES) throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Every figure of every role, from VictoriaMetrics at `queryUrl`, within `deadlineMs`. Roles are those listed
 * in `roles` (in that order, each present even with no figure) and then any other role a query returned.
 */
export async function roleFigures(queryUrl: string, roles: readonly string[], deadlineMs = FIGURES_DEADLINE_MS): Promise<FiguresReport> {
  const signal = AbortSignal.timeout(deadlineMs);
  const figures = Object.keys(FIGURE_QUERIES) as Figure[];
  let failures = 0;
  let lastError = '';
  const answers = await Promise.all(figures.map(async (figure) => {
    try {
      const text = await boundedGet(`${queryUrl}/api/v1/query?query=${encodeURIComponent(FIGURE_QUERIES[figure])}`, signal);
      return parseRoleVector(text) ?? new Map<string, number>();
    } catch (err) {
      failures++;
      lastError = signal.aborted ? `VictoriaMetrics did not answer within ${deadlineMs} ms` : `VictoriaMetrics query failed: ${err instanceof Error ? err.message : String(err)}`;
      return new Map<string, number>();
    }
  }));
  const seen = new Set(roles);
  const extra = [...new Set(answers.flatMap((a) => [...a.keys()]))].filter((r) => !seen.has(r)).sort();
  const rows = [...roles, ...extra].map((role) => {
    const row: RoleFigures = { role, scrapedUp: null, scrapeTargets: null, queueMessages: null, deliveriesPerMinute: null, probeLatencySeconds: null };
    figures.forEach((figure, i) => {
      row[figure] = answers[i]?.get(role) ?? null;
    });
    return row;
  });
  return failures === figures.length ? { roles: rows, error: lastError } : { roles: rows };
}
