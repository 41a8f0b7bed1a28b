/**
 * Grafana dashboards of the platform, as code: overview, MTA and queues, proxy and mailbox, prober,
 * controller. Every query reads a metric of the platform's metrics contract through the data source the
 * user picks (`${datasource}`, any Prometheus-compatible one); namespace, role and instance are variables.
 *
 * The output is the same for every platform: a Grafana fed by several platforms (two rendered
 * ConfigMaps, or `mailfleet dashboards` imported twice) holds one copy of each dashboard under its stable
 * uid, and the namespace variable picks the platform.
 *
 * This room pulls in the Grafana SDK: only the renderer and the `dashboards` command import it, never the agent.
 */
import { controller } from './controller.ts';
import { buildDashboard, dashboardUid, type DashboardDefinition } from './dashboard.ts';
import { mtaQueues } from './mta-queues.ts';
import { overview } from './overview.ts';
import { prober } from './prober.ts';
import { proxyMailbox } from './proxy-mailbox.ts';

export { DASHBOARD_TAG } from './dashboard.ts';

const DEFINITIONS: readonly DashboardDefinition[] = [overview, mtaQueues, proxyMailbox, prober, controller];

/** Names of the dashboards, in the order they are listed. */
export const DASHBOARD_NAMES: readonly string[] = DEFINITIONS.map((d) => d.name);

/** File name of the dashboard called `name` (also its key in the rendered ConfigMap). */
export const dashboardFileName = (name: string): string => `${dashboardUid(name)}.json`;

/** JSON with object keys sorted at every level, two-space indented, ending in a newline. */
function canonicalJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return `${JSON.stringify(sorted(value), null, 2)}\n`;
}

/** Every dashboard as Grafana JSON: file name → text, sorted by file name. Same bytes on every call. */
export function dashboardFiles(): Record<string, string> {
  const files = DEFINITIONS.map((d) => [dashboardFileName(d.name), canonicalJson(buildDashboard(d))] as const);
  return Object.fromEntries(files.sort(([a], [b]) => a.localeCompare(b)));
}
