import { controlRequest, type StatusReport } from '../runtime/local/index.ts';
import { parse } from './args.ts';
import { resolveStateDir } from './state.ts';
import { controlSocket } from '../runtime/local/index.ts';

const USAGE = 'mailfleet status [--json] [--state-dir DIR | -f SPEC]';

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
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
    const director = i.role !== 'mailbox' ? '' : i.director ? `${i.director.state} users=${i.director.users}` : 'not registered';
    rows.push([i.role, i.name, i.address || '-', ports, i.state, i.ready ? 'yes' : 'no', String(i.restarts), `${i.ageSeconds}s`, director]);
  }
  process.stdout.write(table(rows) + '\n');
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { json: { type: 'boolean' }, 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } }, USAGE);
  await printStatus(controlSocket(resolveStateDir(values)), values.json === true);
  return 0;
}
