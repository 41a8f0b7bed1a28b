import { controlRequest, type CertificateStatus, type FiguresReport, type InstanceStatus, type MonitoringStatus, type StatusReport } from '../runtime/local/index.ts';
import { parse } from './args.ts';
import { resolveStateDir } from './state.ts';
import { controlSocket } from '../runtime/local/index.ts';

const USAGE = 'mailfleet status [--json] [--state-dir DIR | -f SPEC]';

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** A mailbox backend as the directors listed it when the report was made. */
function directorCell(i: InstanceStatus, report: StatusReport): string {
  if (i.role !== 'mailbox') return '';
  const d = i.director;
  if (d) return `${d.state} users=${d.users}${d.listedBy < d.directors ? ` (in ${d.listedBy} of ${d.directors} directors)` : ''}`;
  const directors = report.directors;
  if (directors.length > 0 && directors.every((x) => !x.answered)) return 'unknown (no director answers)';
  return 'not registered';
}

/** Where to look at the platform's metrics and alerts, and where alerts go. */
export function monitoringLines(m: MonitoringStatus | undefined): string[] {
  if (!m) return [];
  const lines = [`metrics: ${m.victoriametrics.ui} (VictoriaMetrics)${m.vmalert ? `   alerts: ${m.vmalert.ui} (vmalert)` : ''}   the runtime's own: ${m.runtimeMetrics}`];
  if (m.alertmanager) lines.push(`alerts go through Alertmanager (${m.alertmanager.url}/) to ${m.alertmanager.webhookUrl}`);
  else if (m.vmalert) lines.push('alerts are evaluated but sent nowhere: set spec.local.alertWebhookUrl to have Alertmanager post them');
  return lines;
}

/** `monitoring`: end with the metrics and alerting addresses (default true; `up` says them itself). */
export async function printStatus(socket: string, asJson: boolean, opts: { monitoring?: boolean } = {}): Promise<void> {
  const { body } = await controlRequest(socket, 'GET', '/v1/status?figures=1');
  const report = body as StatusReport;
  if (asJson) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const rows = [['ROLE', 'NAME', 'ADDRESS', 'PORTS', 'STATE', 'READY', 'RESTARTS', 'AGE', 'DIRECTOR']];
  for (const i of report.instances) {
    const ports = Object.entries(i.ports).map(([k, v]) => `${k}:${v}`).join(',');
    rows.push([i.role, i.name, i.address || '-', ports, i.state, i.ready ? 'yes' : 'no', String(i.restarts), `${i.ageSeconds}s`, directorCell(i, report)]);
  }
  process.stdout.write(table(rows) + '\n');
  for (const d of report.directors.filter((x) => !x.answered)) process.stdout.write(`director ${d.name ?? d.address} (${d.address}) did not answer: ${d.error ?? 'no reply'}\n`);
  const certificates = report.certificates ?? [];
  if (certificates.length > 0) process.stdout.write('\n' + certificateTable(certificates) + '\n');
  if (report.figures) process.stdout.write('\n' + figuresTable(report.figures) + '\n');
  const where = opts.monitoring === false ? [] : monitoringLines(report.monitoring);
  if (where.length > 0) process.stdout.write('\n' + where.join('\n') + '\n');
}

/** `12`, `0.25`, `1.5k`: a figure in a few characters; `-` when there is none. */
function figure(value: number | null, unit = ''): string {
  if (value === null) return '-';
  const text = Math.abs(value) >= 10_000 ? `${(value / 1000).toFixed(1)}k` : Number.isInteger(value) ? String(value) : value.toFixed(value >= 100 ? 0 : 2);
  return text + unit;
}

/** Live figures per role from VictoriaMetrics (`-`: no such series yet, or no answer in time). */
function figuresTable(report: FiguresReport): string {
  const rows = [['ROLE', 'SCRAPED', 'QUEUE', 'DELIVERIES/MIN', 'PROBE LATENCY']];
  for (const r of report.roles) {
    const scraped = r.scrapeTargets === null ? '-' : `${figure(r.scrapedUp ?? 0)}/${figure(r.scrapeTargets)} up`;
    rows.push([r.role, scraped, figure(r.queueMessages), figure(r.deliveriesPerMinute), figure(r.probeLatencySeconds, ' s')]);
  }
  return [table(rows), ...(report.error ? [`live figures unavailable: ${report.error}`] : [])].join('\n');
}

/** The server certificates: names, dates and trouble; never key material. */
function certificateTable(certificates: CertificateStatus[]): string {
  const day = (iso: string | undefined) => (iso === undefined ? '-' : `${iso.slice(0, 16).replace('T', ' ')}Z`);
  const rows = [['CERTIFICATE', 'HOSTS', 'ISSUER', 'NOT BEFORE', 'NOT AFTER', 'DAYS LEFT', 'RENEW AT']];
  for (const c of certificates) {
    rows.push([c.name, c.hosts.join(','), c.standIn ? `${c.issuer} (stand-in from the local CA)` : c.issuer, day(c.notBefore), day(c.notAfter), c.daysLeft === undefined ? '-' : String(c.daysLeft), day(c.renewAt)]);
  }
  const errors = certificates.filter((c) => c.lastError).map((c) => `certificate ${c.name}: last ${c.lastError?.reason} attempt failed at ${day(c.lastError?.at)}: ${c.lastError?.message}`);
  return [table(rows), ...errors].join('\n');
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } }, USAGE);
  await printStatus(controlSocket(resolveStateDir(values)), values.json === true);
  return 0;
}
