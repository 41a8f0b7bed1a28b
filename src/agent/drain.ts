import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ConfigInput } from '../config/index.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { requireSecret } from '../spec/index.ts';
import { postfixMasterPid, reloadPostfix } from './postfix-reload.ts';
import { runTool } from './tool.ts';

const POLL_MS = 250;

/** The drain's settings: main.cf with each `key = value` replacing the key's line, not repeating it. */
export function replaceMainCfSettings(mainCf: string, comment: string, settings: Record<string, string>): string {
  const keys = new Set(Object.keys(settings));
  const kept: string[] = [];
  let dropping = false;
  for (const line of mainCf.split('\n')) {
    // A value continues on lines that start with whitespace: they go with their key.
    if (dropping && /^[ \t]/.test(line)) continue;
    dropping = keys.has(/^([a-z0-9_]+)\s*=/.exec(line)?.[1] ?? '');
    if (!dropping) kept.push(line);
  }
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  return [...kept, comment, ...Object.entries(settings).map(([k, v]) => `${k} = ${v}`), ''].join('\n');
}

/** What a drain did, for the log and the agent's metrics. */
export interface DrainReport {
  role: string;
  completed: boolean;
  detail: string;
  durationMs: number;
}

type Drainer = (input: ConfigInput, deadline: number, log: Logger) => Promise<{ completed: boolean; detail: string }>;

async function until(deadline: number, done: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (await done().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await delay(POLL_MS);
  }
}

/** Messages in a Postfix instance's queue, by queue name. */
async function queueCounts(configDir: string): Promise<Record<string, number>> {
  const { stdout } = await runTool('postqueue', ['-c', configDir, '-j']);
  const counts: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const q = (JSON.parse(line) as { queue_name: string }).queue_name;
    counts[q] = (counts[q] ?? 0) + 1;
  }
  return counts;
}

/**
 * mta/msa: new SMTP connections get 421 (smtpd re-reads main.cf on reload; sessions in progress finish),
 * the queue is flushed, and we wait until the active and incoming queues are empty. Whatever remains stays
 * in the persistent queue for the next start: nothing is deleted.
 */
const drainPostfix: Drainer = async (input, deadline, log) => {
  const { configDir } = input.instance;
  const mainCf = join(configDir, 'main.cf');
  // Replaced, not appended: a repeated key makes every Postfix program warn "overriding earlier entry".
  writeFileSync(mainCf, replaceMainCfSettings(readFileSync(mainCf, 'utf8'), '# draining: refuse new sessions politely', {
    smtpd_delay_reject: 'no',
    smtpd_client_restrictions: 'static:{421 4.3.2 Service shutting down, try again later}',
  }));
  await reloadPostfix({ configDir, masterPid: postfixMasterPid(join(input.instance.dataDir, 'queue')), log });
  await runTool('postqueue', ['-c', configDir, '-f']).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'queue flush failed'));
  let counts: Record<string, number> = {};
  const empty = await until(deadline, async () => {
    counts = await queueCounts(configDir);
    return (counts.active ?? 0) === 0 && (counts.incoming ?? 0) === 0 && (counts.maildrop ?? 0) === 0;
  });
  const left = Object.entries(counts).map(([q, n]) => `${q}=${n}`).join(' ') || 'empty';
  return { completed: empty, detail: empty ? `queue drained (${left})` : `budget spent; kept in the queue: ${left}` };
};

/**
 * The rows of a doveadm table. Dovecot 2.3's `proxy list` prints a header of its own, and another for each login
 * process that answers (`username service src-ip …`) even when it has no session: no header counts as a row.
 */
export function doveadmRows(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.trim() !== '' && !/^username\s/.test(l));
}

async function doveadmLines(conf: string, args: string[]): Promise<string[]> {
  const { stdout } = await runTool('doveadm', ['-c', conf, ...args]);
  return doveadmRows(stdout);
}

/** proxy: readiness is already false; sessions get until the budget's end to finish, then the rest are kicked. */
const drainProxy: Drainer = async (input, deadline) => {
  const conf = join(input.instance.configDir, 'dovecot.conf');
  const kickAt = deadline - 1000;
  const idle = await until(kickAt, async () => (await doveadmLines(conf, ['proxy', 'list'])).length === 0);
  if (idle) return { completed: true, detail: 'no proxied sessions left' };
  const users = [...new Set((await doveadmLines(conf, ['proxy', 'list']).catch(() => [])).map((l) => l.split(/\s+/)[0] ?? '').filter(Boolean))];
  if (users.length > 0) await runTool('doveadm', ['-c', conf, 'proxy', 'kick', ...users]).catch(() => undefined);
  return { completed: false, detail: `kicked the sessions of ${users.length} user(s)` };
};

/**
 * mailbox: wait until the directors no longer route users here (the backend-sync controller moved them).
 * Only a director's answer tells: when none answers until the budget ends, users may still be routed
 * here, and the drain failed. A platform without proxies has no director to leave.
 */
const drainMailbox: Drainer = async (input, deadline) => {
  const { spec, peers, instance } = input;
  if (peers.proxy.length === 0) return { completed: true, detail: 'no director to leave' };
  // Loaded here: only a draining mailbox talks to the directors, and no other agent should hold backend sync's modules.
  const { createDirectorSink } = await import('../backends/index.ts');
  const director = createDirectorSink({
    apiKey: requireSecret(spec, 'doveadmApiKey'),
    endpoints: () => peers.proxy.map((p) => ({ url: `https://${p.host}:${spec.ports.doveadm}` })),
    timeoutMs: 2000,
  });
  const me = instance.address ?? instance.listen;
  let unreachable: string | undefined;
  const moved = await until(deadline, async () => {
    try {
      const hosts = await director.list();
      unreachable = undefined;
      const here = hosts.find((h) => h.address === me);
      return here === undefined || here.users === 0;
    } catch (err) {
      unreachable = errorMessage(err);
      return false;
    }
  });
  if (moved) return { completed: true, detail: 'no users routed here' };
  if (unreachable !== undefined) return { completed: false, detail: `could not reach any director: ${unreachable}` };
  return { completed: false, detail: 'budget spent with users still routed here' };
};

const DRAINERS: Record<string, Drainer | undefined> = { mta: drainPostfix, msa: drainPostfix, proxy: drainProxy, mailbox: drainMailbox };

/** The role's drain, bounded by `budgetMs`. ldap and kvs need none: they stop cleanly on SIGTERM. */
export async function drainRole(input: ConfigInput, budgetMs: number, log: Logger): Promise<DrainReport> {
  const started = Date.now();
  const drainer = DRAINERS[input.instance.role];
  if (!drainer) return { role: input.instance.role, completed: true, detail: 'nothing to drain', durationMs: 0 };
  try {
    const r = await drainer(input, started + budgetMs, log);
    return { role: input.instance.role, ...r, durationMs: Date.now() - started };
  } catch (err) {
    return { role: input.instance.role, completed: false, detail: `drain failed: ${errorMessage(err)}`, durationMs: Date.now() - started };
  }
}
