/**
 * Footprint bench: what each `mailfleet agent` (PID 1 of every pod) costs while the platform idles, next to a bare
 * `node` process in the same run. Brings up the example platform (examples/mailfleet.yaml: ldap, kvs, 3 mailbox,
 * proxy, mta, msa) with `mailfleet up` in a temporary state directory on 127.94.0.0/16, and prints per agent:
 * steady RSS, idle CPU in ms per second, and the time from exec to the health port answering and to ready.
 *
 *   node_modules/.bin/node bench/footprint.ts [--settle 15] [--window 60] [--keep]
 *
 * Target (DESIGN.md): steady RSS ≤ 64 MB and idle CPU ≤ 1 ms/s per agent. Needs root (the daemons do).
 * Exit status: 0 measured (target held or not), 1 error, 2 bad command line, 130 interrupted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { loadSpecFile } from '../src/spec/index.ts';
import { cmdline, cpuMeter, rssKb, startTicks } from './footprint/proc.ts';
import { watchStartup, type AgentStart } from './footprint/startup.ts';
import type { Defer } from './support/cleanup.ts';
import { runningAsRoot } from './support/interrupt.ts';
import { greeting, startDaemon, stopDaemon } from './support/processes.ts';
import { runBench } from './support/run.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const MAILFLEET = join(REPO, 'bin', 'mailfleet');
const EXAMPLE = join(REPO, 'examples', 'mailfleet.yaml');
const STATE_PREFIX = '/tmp/mailfleet-bench-footprint-';
const ADDRESS_POOL = '127.94.0.0/16';
const BARE_NODE_SCRIPT = 'setInterval(() => {}, 1000)';
const TARGET_RSS_MB = 64;
const TARGET_CPU_MS_PER_S = 1;
const SAMPLE_MS = 1000;
const BOOT_RUNS = 5;
const UP_TIMEOUT_MS = 180_000;
const DOWN_TIMEOUT_MS = 150_000;
const USAGE = 'usage: node bench/footprint.ts [--settle SECONDS] [--window SECONDS] [--keep]';

interface Options { settleS: number; windowS: number; keep: boolean }

interface Measured {
  label: string;
  pid: number;
  rssMb: number[];
  cpuMsPerS: number;
}

function seconds(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > 3600) throw new Error(`--${name}: expected an integer from ${min} to 3600, got ${value}\n${USAGE}`);
  return n;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { settle: { type: 'string' }, window: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return { settleS: seconds('settle', values.settle, 15, 0), windowS: seconds('window', values.window, 60, 5), keep: values.keep === true };
}

/** The example platform with its state and addresses moved to the bench's own. */
function writeSpec(root: string, stateDir: string): string {
  const doc = parse(readFileSync(EXAMPLE, 'utf8')) as {
    spec: { local?: Record<string, unknown>; probe?: Record<string, unknown>; policy?: Record<string, unknown>; roles: Record<string, unknown> };
  };
  doc.spec.local = { ...doc.spec.local, stateDir, addressPool: ADDRESS_POOL };
  // Agents only: the prober is no agent (it runs on its own, sending mail every interval), and would not idle;
  // nor is the policy server (mailfleet policy on its own, with its Redis connection and rules).
  doc.spec.probe = { enabled: false };
  doc.spec.policy = { enabled: false };
  // Nor rspamd: the example's would look things up on the Internet (DNS blocklists, rspamd.com), and benches talk
  // to loopback only.
  doc.spec.roles = { ...doc.spec.roles, as: { replicas: 0 } };
  const file = join(root, 'mailfleet.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** Median wall time of `node -e 0` from spawn to exit: Node's own boot, the floor under any agent's start. */
function nodeBootMs(): number {
  const runs: number[] = [];
  for (let i = 0; i < BOOT_RUNS; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

/**
 * Starts `mailfleet up` in its own process group (a terminal Ctrl-C reaches only the bench), feeding its progress
 * lines to `onStderr`; resolves with its pid once it says the platform is up.
 */
async function startPlatform(root: string, specFile: string, stateDir: string, onStderr: (chunk: string) => void, defer: Defer, signal: AbortSignal): Promise<number> {
  const logFile = join(root, 'up.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const out = openSync(logFile, 'a');
  const child = spawn(MAILFLEET, ['up', '-f', specFile, '--state-dir', stateDir], { stdio: ['ignore', out, 'pipe'], detached: true });
  closeSync(out);
  const exited = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('exit', () => resolve());
  });
  let text = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log.write(chunk);
    onStderr(chunk);
    if (text.length < 64_000) text += chunk;
  });
  defer('platform', async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const down = spawnSync(MAILFLEET, ['down', '--state-dir', stateDir], { encoding: 'utf8', timeout: DOWN_TIMEOUT_MS });
      if (down.status !== 0) {
        console.error(`bench: mailfleet down failed (${down.stderr.trim().split('\n').pop() ?? down.status}); sending SIGTERM`);
        child.kill('SIGTERM');
      }
      if ((await Promise.race([exited.then(() => 'exited'), delay(DOWN_TIMEOUT_MS, 'timeout', { ref: false })])) === 'timeout' && child.pid) {
        console.error('bench: mailfleet up did not exit; killing its process group');
        process.kill(-child.pid, 'SIGKILL');
      }
    }
    await new Promise<void>((r) => log.end(r));
  });
  const deadline = Date.now() + UP_TIMEOUT_MS;
  while (!text.includes('mailfleet: platform is up')) {
    signal.throwIfAborted();
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mailfleet up exited before the platform was up:\n${text.trim().split('\n').slice(-8).join('\n')}\n(see ${logFile})`);
    if (Date.now() > deadline) throw new Error(`mailfleet up: not up after ${UP_TIMEOUT_MS / 1000} s (see ${logFile})`);
    await delay(100, undefined, { signal });
  }
  if (child.pid === undefined) throw new Error('mailfleet up has no pid');
  return child.pid;
}

/** Samples RSS and CPU of every process in `targets` once a second for `windowS` seconds. */
async function sampleWindow(targets: { label: string; pid: number }[], windowS: number, signal: AbortSignal): Promise<Measured[]> {
  const meters = targets.map((t) => ({ ...t, cpu: cpuMeter(t.pid), rss: [] as number[] }));
  const sample = () => {
    for (const m of meters) {
      m.cpu.sample();
      const kb = rssKb(m.pid);
      if (kb !== undefined) m.rss.push(kb / 1024);
    }
  };
  const t0 = performance.now();
  sample();
  for (let i = 1; i <= windowS; i++) {
    await delay(t0 + i * SAMPLE_MS - performance.now(), undefined, { signal });
    sample();
  }
  const wallS = (performance.now() - t0) / 1000;
  return meters.map((m) => ({ label: m.label, pid: m.pid, rssMb: m.rss, cpuMsPerS: m.cpu.totalNs() / 1e6 / wallS }));
}

function httpStatus(host: string, port: number, path: string): Promise<{ status?: number; body: string }> {
  return new Promise((resolve) => {
    const req = get({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', () => resolve({ body }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', (err) => resolve({ body: err.message }));
  });
}

/**
 * After the window: every agent still the process that started (no restart inside the window), answering
 * `/livez` and `/readyz` with 200; the proxy's LMTP router greets on the LMTP port and exports its metrics.
 */
async function checks(starts: AgentStart[], ports: { http: number; lmtp: number }): Promise<string[]> {
  const problems: string[] = [];
  for (const a of starts) {
    if (startTicks(a.pid) !== a.ticks) problems.push(`${a.name}: its agent (pid ${a.pid}) is gone; it restarted during the run`);
    for (const path of ['/livez', '/readyz']) {
      const r = await httpStatus(a.address, ports.http, path);
      if (r.status !== 200) problems.push(`${a.name}: ${path} answered ${r.status ?? 'nothing'} ${r.body.trim()}`);
    }
    if (a.role !== 'proxy') continue;
    const line = await greeting(a.address, ports.lmtp, 5000).catch((err: unknown) => (err as Error).message);
    if (!line.startsWith('220')) problems.push(`${a.name}: LMTP greeting: ${line}`);
    const metrics = await httpStatus(a.address, ports.http, '/metrics');
    if (!metrics.body.includes('mailfleet_lmtp_router_')) problems.push(`${a.name}: no mailfleet_lmtp_router_* metrics`);
  }
  return problems;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};
const max = (xs: number[]) => (xs.length === 0 ? NaN : Math.max(...xs));
const secondsOrDash = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(2));

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

function report(opts: Options, starts: AgentStart[], measured: Measured[], bare: Measured, runtime: Measured, bootMs: number, problems: string[]): void {
  const byName = new Map(measured.map((m) => [m.label, m]));
  console.log(`footprint bench: ${starts.length} agents of examples/mailfleet.yaml, steady window ${opts.windowS} s after ${opts.settleS} s settling, sampled every ${SAMPLE_MS / 1000} s, ${availableParallelism()} CPUs`);
  console.log(`agents run as: ${cmdline(starts[0]?.pid ?? 0).split(' ').slice(0, 3).join(' ')} …`);
  console.log('');
  const rows = [['process', 'pid', 'RSS MB (median)', 'RSS MB (max)', 'idle CPU ms/s', 'exec→listening s', 'exec→ready s']];
  for (const a of starts) {
    const m = byName.get(a.name);
    if (!m) continue;
    rows.push([a.name, String(a.pid), median(m.rssMb).toFixed(1), max(m.rssMb).toFixed(1), m.cpuMsPerS.toFixed(3),
      secondsOrDash(a.listeningAt === undefined ? undefined : a.listeningAt - a.execAt), secondsOrDash(a.readyAt === undefined ? undefined : a.readyAt - a.execAt)]);
  }
  rows.push([`bare node -e '${BARE_NODE_SCRIPT}'`, String(bare.pid), median(bare.rssMb).toFixed(1), max(bare.rssMb).toFixed(1), bare.cpuMsPerS.toFixed(3), '', `${(bootMs / 1000).toFixed(2)} (node -e 0)`]);
  rows.push(['runtime (mailfleet up)', String(runtime.pid), median(runtime.rssMb).toFixed(1), max(runtime.rssMb).toFixed(1), runtime.cpuMsPerS.toFixed(3), '', '']);
  table(rows);

  const agents = starts.map((a) => byName.get(a.name)).filter((m): m is Measured => m !== undefined);
  const rss = agents.map((m) => median(m.rssMb));
  const cpu = agents.map((m) => m.cpuMsPerS);
  const bareRss = median(bare.rssMb);
  const ready = starts.filter((a) => a.readyAt !== undefined).map((a) => (a.readyAt ?? 0) - a.execAt);
  const listening = starts.filter((a) => a.listeningAt !== undefined).map((a) => (a.listeningAt ?? 0) - a.execAt);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  console.log('');
  console.log(`agents: RSS median of medians ${median(rss).toFixed(1)} MB, max ${max(rss).toFixed(1)} MB, all ${agents.length} together ${sum(rss).toFixed(0)} MB; `
    + `idle CPU median ${median(cpu).toFixed(3)} ms/s, max ${max(cpu).toFixed(3)} ms/s; exec→listening median ${secondsOrDash(median(listening))} s, exec→ready median ${secondsOrDash(median(ready))} s`);
  console.log(`ratios to bare node: RSS ${(median(rss) / bareRss).toFixed(2)}× (max agent ${(max(rss) / bareRss).toFixed(2)}×); above bare node: ${(median(rss) - bareRss).toFixed(1)} MB per agent`);
  console.log(`ratios to target: RSS max agent ${(max(rss) / TARGET_RSS_MB).toFixed(2)} of ${TARGET_RSS_MB} MB; idle CPU max agent ${(max(cpu) / TARGET_CPU_MS_PER_S).toFixed(2)} of ${TARGET_CPU_MS_PER_S} ms/s`);
  console.log(`checks after the window: ${problems.length === 0 ? `/livez and /readyz 200 on every agent, the proxy's LMTP router greets and exports mailfleet_lmtp_router_*` : problems.join('; ')}`);
  const holds = (ok: boolean) => (ok ? 'holds' : 'MISSED');
  console.log(`target: steady RSS ≤ ${TARGET_RSS_MB} MB per agent: ${holds(max(rss) <= TARGET_RSS_MB)} (max ${max(rss).toFixed(1)} MB); `
    + `idle CPU ≤ ${TARGET_CPU_MS_PER_S} ms/s per agent: ${holds(max(cpu) <= TARGET_CPU_MS_PER_S)} (max ${max(cpu).toFixed(3)} ms/s)`);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  if (!runningAsRoot()) return 1;
  return runBench({ prefix: STATE_PREFIX, keep: opts.keep, holds: '(up.log, state/logs/)' }, async ({ root, defer, signal }) => {
    const stateDir = join(root, 'state');
    const specFile = writeSpec(root, stateDir);
    const { ports } = loadSpecFile(specFile).spec;
    const bootMs = nodeBootMs();
    const bare = startDaemon('bare node', [process.execPath, '-e', BARE_NODE_SCRIPT], join(root, 'bare-node.log'));
    defer('bare node', () => stopDaemon(bare));
    const startup = watchStartup(stateDir, ports.http, signal);
    console.error(`bench: starting the platform in ${stateDir}`);
    const t0 = Date.now();
    const runtimePid = await startPlatform(root, specFile, stateDir, (chunk) => startup.feed(chunk), defer, signal);
    await startup.done();
    signal.throwIfAborted();
    if (startup.problems.length > 0) throw new Error(startup.problems.join('; '));
    console.error(`bench: platform up in ${((Date.now() - t0) / 1000).toFixed(1)} s; settling ${opts.settleS} s, then sampling ${opts.windowS} s`);
    await delay(opts.settleS * 1000, undefined, { signal: signal });
    const targets = [...startup.starts.map((a) => ({ label: a.name, pid: a.pid })), { label: 'bare', pid: bare.child.pid ?? 0 }, { label: 'runtime', pid: runtimePid }];
    const measured = await sampleWindow(targets, opts.windowS, signal);
    const problems = await checks(startup.starts, ports);
    const find = (label: string) => measured.find((m) => m.label === label) as Measured;
    report(opts, startup.starts, measured, find('bare'), find('runtime'), bootMs, problems);
    // A figure measured beside a failed check (an agent restarted, a probe failing) is not the steady state.
    return problems.length === 0;
  });
}

process.exitCode = await main();
