/**
 * End-to-end delivery bench: bare Postfix → Dovecot LMTP (the anchor) against the full mailfleet path
 * (mta → director proxy → mailbox backend, LDAP lookups), the same smtp-source load on both, measured in one run.
 *
 *   node_modules/.bin/node bench/delivery.ts [--messages 2000] [--size 4096] [--concurrency 10] [--recipients 100]
 *                                            [--quick] [--keep]
 *
 * Needs root (the daemons do) and the Debian packages scripts/install-debian-packages.sh installs.
 * Target (DESIGN.md): the full path keeps ≥ 90% of the bare path's throughput.
 */
import { existsSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { startBare, BARE_DOVECOT_ADDRESS, BARE_POSTFIX_ADDRESS } from './delivery/bare.ts';
import { startFull } from './delivery/full.ts';
import { cpuDelta, sampleCpu, trackProcesses } from './delivery/cpu.ts';
import { deliver, type Load, type LoadResult } from './delivery/load.ts';
import { assertNothingListens, processTree, reapLeftovers } from './delivery/processes.ts';
import { benchSpec, BENCH_DOMAIN, type BenchSpec } from './delivery/spec.ts';
import type { Defer, DeliveryTarget } from './delivery/target.ts';
import { abortOnSignals, runningAsRoot } from './support/interrupt.ts';

const TARGET_RATIO = 0.9;
/** Above this share of host CPU used by processes outside the bench during a timed run, the numbers are noise. */
const NOISE_WARN_SHARE = 0.1;
const STATE_PREFIX = '/tmp/mailfleet-bench-';
const USAGE = 'usage: node bench/delivery.ts [--messages N] [--size BYTES] [--concurrency C] [--recipients R] [--quick] [--keep] [--processes]';

interface Options {
  messages: number;
  sizeBytes: number;
  concurrency: number;
  recipients: number;
  idleMs: number;
  keep: boolean;
  /** Also print CPU per message by process name inside each component. */
  processes: boolean;
}

function positive(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name}: expected an integer from 1 to ${max}, got ${value}\n${USAGE}`);
  return n;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', short: 'm' },
      size: { type: 'string', short: 'l' },
      concurrency: { type: 'string', short: 'c' },
      recipients: { type: 'string', short: 'r' },
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
      processes: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  return {
    messages: positive('messages', values.messages, quick ? 200 : 2000, 1_000_000),
    sizeBytes: positive('size', values.size, 4096, 10_000_000),
    concurrency: positive('concurrency', values.concurrency, 10, 500),
    recipients: positive('recipients', values.recipients, quick ? 20 : 100, 100_000),
    idleMs: quick ? 2000 : 5000,
    keep: values.keep === true,
    processes: values.processes === true,
  };
}

type Start = (root: string, bench: BenchSpec, defer: Defer, signal: AbortSignal) => Promise<DeliveryTarget>;

/** Clean-up steps, run newest first; processes alive below this one are remembered for the left-behind check. */
function cleanupStack(): { defer: Defer; run: () => Promise<void>; seen: Map<number, string> } {
  const steps: { name: string; step: () => Promise<void> }[] = [];
  const seen = new Map<number, string>();
  return {
    defer: (name, step) => void steps.push({ name, step }),
    seen,
    async run() {
      for (const [pid, start] of processTree([process.pid])) if (pid !== process.pid) seen.set(pid, start);
      for (let s = steps.pop(); s !== undefined; s = steps.pop()) {
        console.error(`bench: stopping ${s.name}`);
        try {
          await s.step();
        } catch (err) {
          console.error(`bench: stopping ${s.name} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    },
  };
}

interface PathResult {
  path: string;
  r: LoadResult;
  /** CPU used while delivering the timed load. */
  cpu: ReturnType<typeof cpuDelta>;
  /** CPU used while the path sat idle for `idleMs` before the load: its background cost (health checks, probes). */
  idle: ReturnType<typeof cpuDelta>;
  idleMs: number;
  /** With --processes: "component process-name" → CPU ms during the timed load. */
  processes?: Map<string, number>;
}

interface RunContext {
  root: string;
  bench: BenchSpec;
  load: Load;
  idleMs: number;
  processes: boolean;
  stack: ReturnType<typeof cleanupStack>;
  signal: AbortSignal;
}

/** Brings one path up, warms it up, samples its idle CPU, times the load, and stops it again. */
async function measurePath(name: string, start: Start, ctx: RunContext): Promise<PathResult> {
  const { root, bench, load, idleMs, stack, signal } = ctx;
  console.error(`bench: starting ${name} path`);
  const t0 = Date.now();
  const target = await start(join(root, name), bench, stack.defer, signal);
  console.error(`bench: ${name} is up in ${((Date.now() - t0) / 1000).toFixed(1)} s; smtp at ${target.smtpHost}:${target.smtpPort}`);
  // Warm-up: one message per recipient, so every mailbox exists (and has a backend) before timing starts.
  await deliver(target, { ...load, messages: load.recipients.length }, signal);
  console.error(`bench: ${name} warmed up; sampling idle CPU for ${idleMs / 1000} s`);
  const idleStart = sampleCpu(target.cpuRoots());
  await delay(idleMs, undefined, { signal });
  const idle = cpuDelta(idleStart, sampleCpu(target.cpuRoots()));
  console.error(`bench: ${name}: sending ${load.messages} messages`);
  const tracker = ctx.processes ? trackProcesses(target.cpuRoots()) : undefined;
  const before = sampleCpu(target.cpuRoots());
  const result = await deliver(target, load, signal);
  const cpu = cpuDelta(before, sampleCpu(target.cpuRoots()));
  const processes = tracker?.stop();
  console.error(`bench: ${name}: ${result.messages} delivered in ${result.deliveredSeconds.toFixed(2)} s`);
  // Stop this path before the next one starts, so the two never compete for the CPU.
  await stack.run();
  return { path: name, r: result, cpu, idle, idleMs, ...(processes ? { processes } : {}) };
}

function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  for (const row of rows) console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

/**
 * CPU per delivered message and CPU per second while idle, by component, side by side: where the full path's
 * extra cost goes, and how much of the machine each path burns before any mail arrives.
 */
function cpuReport(results: PathResult[]): void {
  const components = [...new Set(results.flatMap((x) => [...x.cpu.byComponent.keys(), ...x.idle.byComponent.keys()]))].sort();
  const fmt = (ms: number | undefined, per: number) => (ms === undefined ? '-' : (ms / per).toFixed(2));
  const perMsg = (x: PathResult, ms: number | undefined) => fmt(ms, x.r.messages);
  const perIdleSecond = (x: PathResult, ms: number | undefined) => fmt(ms, x.idleMs / 1000);
  const rows = [['CPU', ...results.map((x) => `${x.path} ms/msg`), ...results.map((x) => `${x.path} idle ms/s`)]];
  for (const c of components) {
    rows.push([c, ...results.map((x) => perMsg(x, x.cpu.byComponent.get(c))), ...results.map((x) => perIdleSecond(x, x.idle.byComponent.get(c)))]);
  }
  rows.push(['total (bench tree)', ...results.map((x) => perMsg(x, x.cpu.oursMs)), ...results.map((x) => perIdleSecond(x, x.idle.oursMs))]);
  rows.push(['other host load', ...results.map((x) => perMsg(x, x.cpu.outsideMs)), ...results.map((x) => perIdleSecond(x, x.idle.outsideMs))]);
  const cpus = availableParallelism();
  const busy = (d: ReturnType<typeof cpuDelta>, ms: number) => `${(((d.oursMs + d.outsideMs) / (ms * cpus)) * 100).toFixed(0)}%`;
  rows.push([`host busy (${cpus} CPUs)`, ...results.map((x) => busy(x.cpu, x.r.deliveredSeconds * 1000)), ...results.map((x) => busy(x.idle, x.idleMs))]);
  table(rows);
}

/** With --processes: CPU per message by component and process name, side by side, largest first. */
function processReport(results: PathResult[]): void {
  const keys = [...new Set(results.flatMap((x) => [...(x.processes?.keys() ?? [])]))];
  const perMsg = (x: PathResult, key: string) => (x.processes?.get(key) ?? 0) / x.r.messages;
  keys.sort((a, b) => Math.max(...results.map((x) => perMsg(x, b))) - Math.max(...results.map((x) => perMsg(x, a))));
  const rows = [['process (sampled every 200 ms)', ...results.map((x) => `${x.path} ms/msg`)]];
  for (const k of keys) {
    if (Math.max(...results.map((x) => perMsg(x, k))) < 0.01) continue;
    rows.push([k, ...results.map((x) => (x.processes?.has(k) ? perMsg(x, k).toFixed(2) : '-'))]);
  }
  table(rows);
}

function report(opts: Options, results: PathResult[]): void {
  console.log(`delivery bench: ${opts.messages} messages of ${opts.sizeBytes} B, ${opts.concurrency} sessions, ${opts.recipients} recipients, ${availableParallelism()} CPUs`);
  const rows = [['path', 'messages', 'seconds', 'msgs/s', 'accepted s']];
  for (const { path, r } of results) {
    rows.push([path, String(r.messages), r.deliveredSeconds.toFixed(2), (r.messages / r.deliveredSeconds).toFixed(1), r.acceptedSeconds.toFixed(2)]);
  }
  table(rows);
  console.log('');
  cpuReport(results);
  console.log('');
  if (opts.processes) {
    processReport(results);
    console.log('');
  }
  const rate = (path: string) => {
    const r = results.find((x) => x.path === path)?.r;
    return r ? r.messages / r.deliveredSeconds : NaN;
  };
  const ratio = rate('full') / rate('bare');
  console.log(`full/bare  ${ratio.toFixed(3)}`);
  // On a CPU-bound host throughput is CPUs / CPU per message; this ratio barely moves with outside load.
  const cpuPerMsg = (path: string) => {
    const x = results.find((y) => y.path === path);
    return x ? x.cpu.oursMs / x.r.messages : NaN;
  };
  console.log(`full/bare by CPU per message (bare ms/msg ÷ full ms/msg)  ${(cpuPerMsg('bare') / cpuPerMsg('full')).toFixed(3)}`);
  for (const x of results) {
    const share = x.cpu.outsideMs / (x.cpu.oursMs + x.cpu.outsideMs);
    if (share > NOISE_WARN_SHARE) console.log(`warning: other processes used ${(share * 100).toFixed(0)}% of the CPU during the ${x.path} run; rerun on a quiet host`);
  }
  const verdict = ratio >= TARGET_RATIO ? 'holds' : 'MISSED';
  console.log(`target: full path keeps ≥ ${TARGET_RATIO * 100}% of bare throughput: ${verdict} (${(ratio * 100).toFixed(1)}%)`);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (!runningAsRoot()) return 1;
  if (!existsSync('/usr/sbin/smtp-source')) {
    console.error('bench: /usr/sbin/smtp-source is missing (it ships with the postfix package)');
    return 1;
  }
  const { abort, release } = abortOnSignals();

  const root = mkdtempSync(STATE_PREFIX);
  chmodSync(root, 0o755);
  const stack = cleanupStack();
  let failed = false;
  try {
    const bench = benchSpec(opts.recipients);
    await assertNothingListens(BARE_POSTFIX_ADDRESS, bench.platform.spec.ports.smtp);
    await assertNothingListens(BARE_DOVECOT_ADDRESS, bench.platform.spec.ports.lmtp);
    const load: Load = { messages: opts.messages, sizeBytes: opts.sizeBytes, concurrency: opts.concurrency, sender: `bench@${BENCH_DOMAIN}`, recipients: bench.recipients };
    const ctx: RunContext = { root, bench, load, idleMs: opts.idleMs, processes: opts.processes, stack, signal: abort.signal };
    const results: PathResult[] = [];
    for (const [path, start] of [['bare', startBare], ['full', startFull]] as const) results.push(await measurePath(path, start, ctx));
    report(opts, results);
  } catch (err) {
    failed = true;
    const msg = abort.signal.aborted ? String((abort.signal.reason as Error).message) : err instanceof Error ? err.message : String(err);
    console.error(`bench: ${msg}`);
  } finally {
    await stack.run();
    const left = await reapLeftovers(stack.seen, [root]);
    for (const p of left) console.error(`bench: left behind and now stopped: pid ${p.pid} ${p.cmd}`);
    if (left.length === 0) console.error('bench: no process left behind');
    if (failed || opts.keep) console.error(`bench: state and logs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
    release();
  }
  if (abort.signal.aborted) return 130;
  return failed ? 1 : 0;
}

process.exitCode = await main();
