/** Reads the series of one metric out of a prom-client registry, as `{ 'a="x",b="y"': value }`, for exact comparisons. */
import type { Registry } from 'prom-client';

export async function series(registry: Registry, name: string): Promise<Record<string, number>> {
  const metrics = await registry.getMetricsAsJSON();
  const metric = metrics.find((m) => m.name === name);
  if (metric === undefined) throw new Error(`no metric ${name} in the registry`);
  const out: Record<string, number> = {};
  for (const value of metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
    const labels = Object.entries(value.labels).map(([k, v]) => `${k}="${v}"`).join(',');
    const suffix = value.metricName !== undefined && value.metricName !== name ? value.metricName.slice(name.length) : '';
    out[`${suffix}{${labels}}`] = value.value;
  }
  return out;
}
