/**
 * The few PromQL shapes the dashboards use, written once: a selector with the dashboard's variable
 * matchers, per-second rates and sums over Grafana's `$__rate_interval`, and quantiles of histograms.
 * Template variables only ever appear inside `=~"..."` matchers, so "All" (`.*`) also matches series
 * that lack the label (the single host has no `namespace`).
 */

/** Grafana's rate window: at least four scrape intervals. */
export const RATE_INTERVAL = '$__rate_interval';

/** Label matchers, e.g. `namespace=~"$namespace"`. */
export type Matchers = readonly string[];

/** `metric{m1,m2}`; `metric` alone without matchers. */
export function series(metric: string, matchers: Matchers): string {
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(',')}}`;
}

/** `sum by (labels) (inner)`; `sum(inner)` without labels. */
export function sumBy(labels: readonly string[], inner: string): string {
  return labels.length === 0 ? `sum(${inner})` : `sum by (${labels.join(', ')}) (${inner})`;
}

/** Per-second rate of a counter, summed by `labels`. */
export function rate(metric: string, matchers: Matchers, labels: readonly string[] = []): string {
  return sumBy(labels, `rate(${series(metric, matchers)}[${RATE_INTERVAL}])`);
}

/** Increase of a counter over the rate window, summed by `labels` (for rare events: runs, failures, errors). */
export function increase(metric: string, matchers: Matchers, labels: readonly string[] = []): string {
  return sumBy(labels, `increase(${series(metric, matchers)}[${RATE_INTERVAL}])`);
}

/** The `q` quantile (0..1) of histogram `metric` (without `_bucket`) over the rate window, per `labels`. */
export function quantile(q: number, metric: string, matchers: Matchers, labels: readonly string[] = []): string {
  return `histogram_quantile(${q}, ${rate(`${metric}_bucket`, matchers, [...labels, 'le'])})`;
}

/** Per-`le` bucket rates of histogram `metric`, for a heatmap. */
export function buckets(metric: string, matchers: Matchers): string {
  return rate(`${metric}_bucket`, matchers, ['le']);
}
