/**
 * Start-up timing of each agent `mailfleet up` starts: from its exec (the process start time in /proc) to its
 * health port answering at all, and to its first `/readyz` 200 (the daemon answered its protocol dialogue).
 */
import { get } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { execEpochMs, findProcess, startTicks } from './proc.ts';

/** How often a starting agent's `/readyz` is asked. */
const POLL_MS = 20;
const REQUEST_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 120_000;

export interface AgentStart {
  name: string;
  role: string;
  address: string;
  pid: number;
  /** The process's start time in clock ticks after boot (`startTicks`). */
  ticks: number;
  execAt: number;
  /** First HTTP answer of any status on the health port (the agent is up, the daemon may not be). */
  listeningAt?: number;
  /** First `/readyz` 200. */
  readyAt?: number;
}

/** `[3/8] mailbox-0    127.94.0.4      starting` as `mailfleet up` prints it on stderr. */
const PROGRESS = /^\[\s*\d+\/\d+\]\s+(\S+)\s+(\S+)\s+starting$/;

function readyz(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get({ host, port, path: '/readyz', agent: false, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

async function follow(start: AgentStart, port: number, signal: AbortSignal): Promise<void> {
  const deadline = start.execAt + START_TIMEOUT_MS;
  while (start.readyAt === undefined && !signal.aborted && Date.now() < deadline) {
    const status = await readyz(start.address, port);
    const at = Date.now();
    if (status !== undefined) start.listeningAt ??= at;
    if (status === 200) start.readyAt = at;
    else await delay(POLL_MS);
  }
}

/**
 * Feeds on `mailfleet up`'s progress lines; for each instance it starts, finds the agent's process and polls its
 * `/readyz` until the first 200. `done()` resolves once every agent seen so far is ready (or gave up).
 */
export function watchStartup(stateDir: string, healthPort: number, signal: AbortSignal) {
  const starts: AgentStart[] = [];
  const following: Promise<void>[] = [];
  const problems: string[] = [];
  let partial = '';
  return {
    starts,
    problems,
    /** Call with every chunk of `mailfleet up`'s stderr. */
    feed(chunk: string) {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = PROGRESS.exec(line.trim());
        if (!m) continue;
        const [, name = '', address = ''] = m;
        // The runtime prints the line right after spawning the agent, so its process exists by now.
        const pid = findProcess([stateDir, ` --name ${name} `, ` --listen ${address} `]);
        const execAt = pid === undefined ? undefined : execEpochMs(pid);
        const ticks = pid === undefined ? undefined : startTicks(pid);
        if (pid === undefined || execAt === undefined || ticks === undefined) {
          problems.push(`${name}: agent process not found`);
          continue;
        }
        const start: AgentStart = { name, role: name.replace(/-\d+$/, ''), address, pid, ticks, execAt };
        starts.push(start);
        following.push(follow(start, healthPort, signal));
      }
    },
    done: () => Promise.all(following).then(() => undefined),
  };
}
