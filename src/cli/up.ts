import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { POSTFIX_LOG_QUEUE_MIN } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { createRootLogger } from '../log.ts';
import { controlSocket, LOG_FILE_MODE, logsDir, privateLogs, startLocalPlatform, type Pod } from '../runtime/local/index.ts';
import { demoAccounts, INSTANCE_ROLES, instanceReplicas, loadSpecFile } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { createProgressCounter } from './progress.ts';
import { monitoringLines, printStatus } from './status.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet up -f SPEC [--state-dir DIR] [--log-stdout]';

/**
 * argv that starts `mailfleet agent`: the launcher a pod's entrypoint is (bin/mailfleet), so every instance runs
 * what a pod runs, with the same Node.js settings, on the compiled CLI (dist/), never the TypeScript sources.
 * The paths are the same from src/cli/ and dist/cli/.
 */
export function agentCommand(): string[] {
  return [fileURLToPath(new URL('../../bin/mailfleet', import.meta.url))];
}

/** The compiled CLI the launcher runs. */
const COMPILED_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function upCommand(argv: string[]): Promise<number> {
  if (!existsSync(COMPILED_MAIN)) throw new MailfleetError('PREREQUISITE_MISSING', `${COMPILED_MAIN} is missing: the instances run the compiled CLI; run scripts/build`);
  const { values } = parse(argv, { file: { type: 'string', short: 'f' }, 'state-dir': { type: 'string', short: 's' }, 'log-stdout': { type: 'boolean' } }, USAGE);
  if (!values.file) throw usageError(USAGE, 'missing -f SPEC');
  const platform = loadSpecFile(values.file);
  const stateDir = resolveStateDir(values);
  const { spec } = platform;
  const total = INSTANCE_ROLES.reduce((n, role) => n + instanceReplicas(spec, role), 0);
  say(`mailfleet: bringing up ${platform.metadata.name} (${total} instances) in ${stateDir}`);
  const counter = createProgressCounter(total);
  const progress = ({ pod, phase, elapsedMs, detail }: { pod: Pod; phase: string; elapsedMs?: number; detail?: string }) => {
    const count = counter.update(pod.name, phase);
    const timing = elapsedMs === undefined ? '' : ` (${(elapsedMs / 1000).toFixed(1)} s)`;
    say(`${count} ${pod.name.padEnd(12)} ${pod.address.padEnd(15)} ${phase}${timing}${detail ? ` — ${detail}` : ''}`);
  };
  if (!values['log-stdout']) privateLogs(logsDir(stateDir));
  const root = createRootLogger(values['log-stdout'] ? {} : { destination: join(logsDir(stateDir), 'runtime.log'), mode: LOG_FILE_MODE });
  const local = await startLocalPlatform({ platform, stateDir, agentCommand: agentCommand(), logFor: (component) => root.child({ component }), progress, note: (l) => say(`mailfleet: ${l}`) });
  counter.started();

  say('');
  await printStatus(controlSocket(stateDir), false, { monitoring: false });
  const accounts = demoAccounts(spec);
  say('');
  say(`demo accounts (${accounts.length}): ${accounts.slice(0, 3).map((a) => `${a.address} / ${a.password}`).join(', ')}${accounts.length > 3 ? ', …' : ''}`);
  say(`logs: ${logsDir(stateDir)}   control: ${controlSocket(stateDir)}`);
  for (const line of monitoringLines(local.monitoring())) say(line.startsWith('metrics:') ? line : `mailfleet: ${line}`);
  const { outbound } = platform.spec;
  if (outbound.mailout.replicas > 0 || outbound.fallback.replicas > 0) {
    say('mailfleet: the outbound pools (mailout, fallback) run in Kubernetes only; here mail for other domains stays queued');
  }
  const dgramQueue = postlogQueueNote(platform.spec);
  if (dgramQueue) say(`mailfleet: ${dgramQueue}`);
  say('mailfleet: platform is up; Ctrl-C or `mailfleet down` stops it');
  await local.stopped;
  say('mailfleet: platform stopped');
  return 0;
}

/** A note when the host queues fewer datagrams per Unix socket than Postfix's logging needs (POSTFIX_LOG_QUEUE_MIN). */
function postlogQueueNote(spec: { roles: Record<string, { replicas: number }> }): string | undefined {
  if ((spec.roles.mta?.replicas ?? 0) + (spec.roles.msa?.replicas ?? 0) === 0) return undefined;
  let value: number;
  try {
    value = Number(readFileSync('/proc/sys/net/unix/max_dgram_qlen', 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isFinite(value) || value >= POSTFIX_LOG_QUEUE_MIN) return undefined;
  return `net.unix.max_dgram_qlen is ${value} on this host: Postfix's processes wait whenever its log server falls ${value} lines behind; \`sysctl -w net.unix.max_dgram_qlen=${POSTFIX_LOG_QUEUE_MIN}\` (systemd's value) avoids it`;
}
