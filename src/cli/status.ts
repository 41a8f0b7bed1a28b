import { controlRequest, type CertificateStatus, type InstanceStatus, type StatusReport } from '../runtime/local/index.ts';
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

export async function printStatus(socket: string, asJson: boolean): Promise<void> {
  const { body } = await controlRequest(socket, 'GET', '/v1/status');
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
