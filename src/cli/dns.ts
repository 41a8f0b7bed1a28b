import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import {
  addrconfigTypes,
  auditReportJson,
  checkObservePrerequisites,
  formatAuditReport,
  hostNameProblem,
  kubernetesProfiles,
  parseResolvConf,
  runAudit,
  type AuditProfile,
} from '../dns/index.ts';
import { MailfleetError, errorMessage } from '../errors.ts';
import { notASubcommand, parse, usageError } from './args.ts';

const USAGE = 'mailfleet dns audit NAME [--resolv-conf FILE] [--observe] [--json]';
const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

function readResolvConf(file: string, explicit: boolean): string {
  try {
    return readFileSync(file, 'latin1');
  } catch (err) {
    // glibc runs on defaults without /etc/resolv.conf; a file named on the command line must exist.
    if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new MailfleetError('DNS_AUDIT_FAILED', `cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { 'resolv-conf': { type: 'string' }, observe: { type: 'boolean' }, json: { type: 'boolean' } },
    USAGE,
    1,
  );
  const [name] = positionals;
  if (name === undefined) throw usageError(USAGE, 'missing NAME');
  const problem = hostNameProblem(name);
  if (problem !== undefined) throw usageError(USAGE, `${JSON.stringify(name)} is not a host name to audit: ${problem}`);
  const observe = values.observe === true;
  if (observe) checkObservePrerequisites();

  const file = values['resolv-conf'] ?? DEFAULT_RESOLV_CONF;
  const conf = parseResolvConf(readResolvConf(file, values['resolv-conf'] !== undefined), { hostname: hostname() });
  const profiles: AuditProfile[] = [{ id: 'resolv-conf', title: file, conf }, ...kubernetesProfiles()];
  // getent ahosts passes AI_ADDRCONFIG; predict what it will ask for so the comparison is fair.
  const types = observe ? addrconfigTypes(networkInterfaces()) : undefined;
  const report = await runAudit({ name, profiles, observe, ...(types ? { types } : {}) });

  process.stdout.write(values.json === true ? `${JSON.stringify(auditReportJson(report), null, 2)}\n` : formatAuditReport(report));
  return report.profiles.every((audit) => audit.observation?.matches !== false) ? 0 : 1;
}

/** `mailfleet dns audit NAME`: the DNS queries a resolver sends for NAME. */
export async function dnsCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'audit') return auditCommand(rest);
  throw notASubcommand(sub, USAGE);
}
