import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MailfleetError } from '../errors.ts';
import { createRootLogger } from '../log.ts';
import { controlSocket, startLocalPlatform, type Pod } from '../runtime/local/index.ts';
import { demoAccounts, loadSpecFile } from '../spec/index.ts';
import { parse, usageError } from './args.ts';
import { printStatus } from './status.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet up -f SPEC [--state-dir DIR] [--log-stdout]';

/**
 * argv that starts `mailfleet agent` with the same Node.js as this process, on the compiled CLI (dist/, which
 * scripts/build writes): every instance runs what a pod runs, never the TypeScript sources. The path is the same
 * from src/cli/ and dist/cli/.
 */
export function agentCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))];
}

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export async function upCommand(argv: string[]): Promise<number> {
  const agent = agentCommand();
  const main = agent[agent.length - 1] ?? '';
  if (!existsSync(main)) throw new MailfleetError('PREREQUISITE_MISSING', `${main} is missing: the instances run the compiled CLI; run scripts/build`);
  const { values } = parse(argv, { file: { type: 'string', short: 'f' }, 'state-dir': { type: 'string', short: 's' }, 'log-stdout': { type: 'boolean' } }, USAGE);
  if (!values.file) throw usageError(USAGE, 'missing -f SPEC');
  const platform = loadSpecFile(values.file);
  const stateDir = resolveStateDir(values);
  const { spec } = platform;
  const total = Object.values(spec.roles).reduce((n, r) => n + r.replicas, 0);
  let ready = 0;
  say(`mailfleet: bringing up ${platform.metadata.name} (${total} instances) in ${stateDir}`);
  const progress = ({ pod, phase, elapsedMs, detail }: { pod: Pod; phase: string; elapsedMs?: number; detail?: string }) => {
    if (phase === 'ready') ready++;
    const counter = `[${String(ready).padStart(String(total).length)}/${total}]`;
    const timing = elapsedMs === undefined ? '' : ` (${(elapsedMs / 1000).toFixed(1)} s)`;
    say(`${counter} ${pod.name.padEnd(12)} ${pod.address.padEnd(15)} ${phase}${timing}${detail ? ` — ${detail}` : ''}`);
  };
  const root = createRootLogger(values['log-stdout'] ? {} : { destination: join(stateDir, 'logs', 'runtime.log') });
  const local = await startLocalPlatform({ platform, stateDir, agentCommand: agent, logFor: (component) => root.child({ component }), progress, note: (l) => say(`mailfleet: ${l}`) });

  say('');
  await printStatus(controlSocket(stateDir), false);
  const accounts = demoAccounts(spec);
  say('');
  say(`demo accounts (${accounts.length}): ${accounts.slice(0, 3).map((a) => `${a.address} / ${a.password}`).join(', ')}${accounts.length > 3 ? ', …' : ''}`);
  say(`logs: ${join(stateDir, 'logs')}   control: ${controlSocket(stateDir)}`);
  const { outbound } = platform.spec;
  if (outbound.mailout.replicas > 0 || outbound.fallback.replicas > 0) {
    say('mailfleet: the outbound pools (mailout, fallback) run in Kubernetes only; here mail for other domains stays queued');
  }
  say('mailfleet: platform is up; Ctrl-C or `mailfleet down` stops it');
  await local.stopped;
  say('mailfleet: platform stopped');
  return 0;
}
