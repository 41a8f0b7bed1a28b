/**
 * One run: a server started fresh, its rule checked (once per server and bench run), then the load generator
 * forked with `connections` connections; the server's CPU and memory are read from /proc when the generator
 * says its timed window starts and ends, and the server is stopped afterwards.
 */
import { fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { cleanupStack } from '../support/cleanup.ts';
import { assertNothingListens } from '../support/processes.ts';
import { checkRule, type RuleCheck } from './check.ts';
import type { LoadMessage, LoadOptions, LoadReport } from './load.ts';
import { hostBusyS, sampleTree, treePssMb, type TreeSample } from './proc.ts';
import type { ServerCounts, ServerName, ServerUnderTest } from './servers.ts';

const LOAD = fileURLToPath(new URL('./load.ts', import.meta.url));
const RULE_CHECK_TIMEOUT_MS = 120_000;

export interface Usage {
  /** CPU seconds inside the window. */
  cpuS: number;
  /** Resident memory (sum over the tree) when the window started and when it ended, MiB. */
  rssStartMb: number;
  rssEndMb: number;
  /** Sum of each process's peak resident memory (VmHWM) at the end of the window, MiB. */
  peakMb: number;
  /** Proportional set size at the end of the window: shared pages counted once, MiB. */
  pssEndMb: number;
  processes: number;
}

export interface RunResult {
  server: ServerName;
  connections: number;
  load: LoadReport;
  usage: Usage;
  /** Processes serving the server without being it (mailfleet's Redis). */
  helpers: { name: string; usage: Usage }[];
  /** Share of the host's CPU inside the window used by processes outside the server, its helpers, the generator and the bench. */
  otherLoad: number;
  counts: ServerCounts | undefined;
  ruleCheck: RuleCheck | undefined;
}

export interface RunOptions {
  warmupMs: number;
  durationMs: number;
  seed: number;
  clients: number;
  poolRequests: number;
  /** Run the rule check before the load. */
  checkRule: boolean;
}

function usage(start: TreeSample, end: TreeSample, roots: number[]): Usage {
  return {
    cpuS: end.cpuS - start.cpuS,
    rssStartMb: start.rssMb,
    rssEndMb: end.rssMb,
    peakMb: end.hwmMb,
    pssEndMb: treePssMb(roots),
    processes: end.pids.size,
  };
}

const benchCpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Forks the load generator; `onWindow` hears the window's start and end. Resolves with its report once it has
 * exited; an abort or an error kills it.
 */
function runGenerator(opts: LoadOptions, onWindow: (edge: 'start' | 'end') => void, signal: AbortSignal): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const child = fork(LOAD, [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let report: LoadReport | undefined;
    let failure: Error | undefined;
    const fail = (err: Error) => {
      failure ??= err;
      child.kill('SIGTERM');
    };
    const onAbort = () => fail(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: LoadMessage) => {
      if (m.type === 'window-start') onWindow('start');
      else if (m.type === 'window-end') onWindow('end');
      else if (m.type === 'report') report = m.report;
      else fail(new Error(`load generator: ${m.message}`));
    });
    child.on('error', (err) => fail(new Error(`load generator: ${err.message}`)));
    child.on('exit', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else if (report && code === 0) resolve(report);
      else reject(new Error(`load generator exited (${sig ?? `status ${code}`})${report ? '' : ' without a report'}`));
    });
  });
}

/**
 * Starts `server` in `dir`, measures it under `connections` connections, and stops it: everything it starts is
 * registered on `stack`, which is run before this returns (or throws).
 */
export async function measureRun(server: ServerUnderTest, connections: number, opts: RunOptions, dir: string,
  stack: ReturnType<typeof cleanupStack>, signal: AbortSignal): Promise<RunResult> {
  await assertNothingListens(server.host, server.port);
  mkdirSync(dir, { recursive: true });
  try {
    const running = await server.start(dir, stack.defer, signal);
    const ruleCheck = opts.checkRule && server.hasRule ? await checkRule(server.host, server.port, RULE_CHECK_TIMEOUT_MS, signal) : undefined;
    let start: { tree: TreeSample; helpers: TreeSample[]; host: number; bench: number } | undefined;
    let end: typeof start;
    const sample = () => ({
      tree: sampleTree(running.roots()),
      helpers: running.helpers().map((h) => sampleTree(h.roots)),
      host: hostBusyS(),
      bench: benchCpuS(),
    });
    const load = await runGenerator({
      host: server.host,
      port: server.port,
      connections,
      warmupMs: opts.warmupMs,
      durationMs: opts.durationMs,
      seed: opts.seed,
      poolRequests: opts.poolRequests,
      clients: opts.clients,
      replyTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
    }, (edge) => {
      if (edge === 'start') start = sample();
      else end = sample();
    }, signal);
    if (!start || !end) throw new Error('load generator reported without a timed window');
    // Remembered for the left-behind check at the end (postfwd's children are not the bench's children).
    for (const [pid, t] of end.tree.pids) stack.seen.set(pid, t);
    const helpers = running.helpers().map((h, i) => ({ name: h.name, usage: usage(start?.helpers[i] as TreeSample, end?.helpers[i] as TreeSample, h.roots) }));
    const own = usage(start.tree, end.tree, running.roots());
    const counts = await running.afterRun();
    const outside = end.host - start.host - own.cpuS - helpers.reduce((s, h) => s + h.usage.cpuS, 0) - load.cpuS - (end.bench - start.bench);
    const otherLoad = Math.max(0, outside) / (availableParallelism() * load.seconds);
    return { server: server.name, connections, load, usage: own, helpers, otherLoad, counts, ruleCheck };
  } finally {
    await stack.run();
  }
}
