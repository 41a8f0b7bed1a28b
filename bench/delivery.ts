/**
 * End-to-end delivery bench: bare Postfix → Dovecot LMTP (the anchor) against the full mailfleet path
 * (mta → the proxy's LMTP router, which asks the director → mailbox backend, LDAP lookups), the same smtp-source
 * load on both, measured in one run. With `--filtered`, both paths scan every message: bare Postfix → rspamd
 * milter (+ clamd) → Dovecot, configured by hand, against the platform with `as` and `av` (delivery/filtered.ts).
 *
 *   node_modules/.bin/node bench/delivery.ts [--messages 2000] [--size 4096] [--concurrency 10] [--recipients 100]
 *                                            [--rounds 3] [--quick] [--keep] [--processes] [--starttls] [--filtered]
 *                                            [--no-quota-check]
 *
 * The full path's mta checks each recipient's mailbox quota at RCPT (on by default); --no-quota-check turns that off.
 * Both paths stay up; the rounds alternate bare, full, bare, full, … and the path not being timed is frozen
 * (SIGSTOP), so a burst of outside load on this shared host lands on both paths instead of skewing one.
 *
 * Needs root (the daemons do) and the Debian packages scripts/install-debian-packages.sh installs.
 * Target (DESIGN.md): the full path keeps ≥ 90% of the bare path's throughput.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ATTACHMENT_EVERY } from './delivery/mix.ts';
import { filteredMode, filteredPrerequisites, scanVerdicts, unfilteredMode, type Mode, type Start } from './delivery/filtered.ts';
import { cpuDelta, sampleCpu, trackProcesses, type ProcessUse } from './delivery/cpu.ts';
import { deliver, jobs, type Load, type LoadResult } from './delivery/load.ts';
import { assertNothingListens } from './support/processes.ts';
import { addCpu, freeze, thaw } from './delivery/rounds.ts';
import { BENCH_DOMAIN, type BenchSpec } from './delivery/spec.ts';
import type { Defer, DeliveryTarget } from './delivery/target.ts';
import { filterReport, table, UNSCANNED, type Verdicts } from './delivery/report.ts';
import { positive } from './support/options.ts';
import { runningAsRoot } from './support/interrupt.ts';
import { runBench } from './support/run.ts';

const TARGET_RATIO = 0.9;
/** Above this share of host CPU used by processes outside the bench during a timed run, the numbers are noise. */
const NOISE_WARN_SHARE = 0.1;
const STATE_PREFIX = '/tmp/mailfleet-bench-';
const USAGE = 'usage: node bench/delivery.ts [--messages N] [--size BYTES] [--concurrency C] [--recipients R] [--rounds N] [--quick] [--keep] [--processes] [--starttls] [--filtered] [--no-quota-check]';
/** After a path is thawed, its overdue timers (probes, idle kills) fire; the timed load starts after them. */
const THAW_SETTLE_MS = 3000;

interface Options {
  messages: number;
  sizeBytes: number;
  concurrency: number;
  recipients: number;
  /** Timed loads per path, alternating between the paths. */
  rounds: number;
  idleMs: number;
  keep: boolean;
  /** Also print CPU per message by process name inside each component. */
  processes: boolean;
  /** Send over STARTTLS (mailfleet's SMTP client instead of smtp-source, on both paths). */
  starttls: boolean;
  /** Both paths filter: rspamd as the milter (+ clamd); see delivery/filtered.ts. */
  filtered: boolean;
  /** The full path's mta checks mailbox quotas at RCPT (spec.quota.checkAtRcpt), as by default. */
  quotaCheck: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', short: 'm' },
      size: { type: 'string', short: 'l' },
      concurrency: { type: 'string', short: 'c' },
      recipients: { type: 'string', short: 'r' },
      rounds: { type: 'string' },
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
      processes: { type: 'boolean' },
      starttls: { type: 'boolean' },
      filtered: { type: 'boolean' },
      'no-quota-check': { type: 'boolean' },
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
    messages: positive('messages', values.messages, quick ? 200 : 2000, 1_000_000, USAGE),
    sizeBytes: positive('size', values.size, 4096, 10_000_000, USAGE),
    concurrency: positive('concurrency', values.concurrency, 10, 500, USAGE),
    recipients: positive('recipients', values.recipients, quick ? 20 : 100, 100_000, USAGE),
    rounds: positive('rounds', values.rounds, quick ? 1 : 3, 20, USAGE),
    idleMs: quick ? 2000 : 5000,
    keep: values.keep === true,
    processes: values.processes === true,
    starttls: values.starttls === true,
    filtered: values.filtered === true,
    quotaCheck: values['no-quota-check'] !== true,
  };
}

/** Clean-up steps, run newest first; processes alive below this one are remembered for the left-behind check. */
interface PathResult {
  path: string;
  r: LoadResult;
  /** CPU used while delivering the timed load. */
  cpu: ReturnType<typeof cpuDelta>;
  /** CPU used while the path sat idle for `idleMs` before the load: its background cost (health checks, probes). */
  idle: ReturnType<typeof cpuDelta>;
  idleMs: number;
  /** With --processes: "component process-name" → CPU ms and runs during the timed load. */
  processes?: Map<string, ProcessUse>;
}

interface RunContext {
  root: string;
  bench: BenchSpec;
  load: Load;
  idleMs: number;
  processes: boolean;
  defer: Defer;
  signal: AbortSignal;
  /** After a path's warm-up, before its idle sample (the filtered mode's virus check). */
  afterWarmUp?: Mode['afterWarmUp'];
}

interface Running {
  name: string;
  target: DeliveryTarget;
  /** Set by the warm-up. */
  idle: ReturnType<typeof cpuDelta>;
  rounds: { r: LoadResult; cpu: ReturnType<typeof cpuDelta>; processes?: Map<string, ProcessUse> }[];
}

/** Brings one path up and freezes it until its warm-up. */
async function bringUp(name: string, start: Start, ctx: RunContext): Promise<Running> {
  const { root, bench, defer, signal } = ctx;
  console.error(`bench: starting ${name} path`);
  const t0 = Date.now();
  const target = await start(join(root, name), bench, defer, signal);
  // Stopped processes cannot take SIGTERM: a frozen path is thawed before its own stop steps run.
  defer(`${name} path (thaw)`, async () => thaw(target));
  console.error(`bench: ${name} is up in ${((Date.now() - t0) / 1000).toFixed(1)} s; smtp at ${target.smtpHost}:${target.smtpPort}`);
  freeze(target);
  return { name, target, idle: { byComponent: new Map(), oursMs: 0, outsideMs: 0 }, rounds: [] };
}

/**
 * Both paths brought up at the same time (the filtered bare path's rspamd takes as long to load its rules as the
 * platform takes to come up); each is frozen once up. Every start is awaited before a failure is thrown, so the
 * stop steps of both are registered by then.
 */
async function bringUpAll(paths: Mode['paths'], ctx: RunContext): Promise<Running[]> {
  const settled = await Promise.allSettled(paths.map(([name, start]) => bringUp(name, start, ctx)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

/** Warms a frozen path up, samples its idle CPU, and freezes it again until its first round. */
async function warmUp(path: Running, ctx: RunContext): Promise<void> {
  const { load, idleMs, signal } = ctx;
  const { name, target } = path;
  thaw(target);
  await delay(THAW_SETTLE_MS, undefined, { signal });
  // One message per recipient, so every mailbox exists (and has a backend) before timing starts.
  await deliver(target, { ...load, messages: load.recipients.length, ...(load.mix ? { mix: { batch: 0 } } : {}) }, signal);
  await ctx.afterWarmUp?.(target, signal);
  console.error(`bench: ${name} warmed up; sampling idle CPU for ${idleMs / 1000} s`);
  const idleStart = sampleCpu(target.cpuRoots());
  await delay(idleMs, undefined, { signal });
  path.idle = cpuDelta(idleStart, sampleCpu(target.cpuRoots()));
  freeze(target);
}

/** One timed load on a thawed path; the path is frozen again afterwards. */
async function timedRound(path: Running, round: number, ctx: RunContext): Promise<void> {
  const { load, signal } = ctx;
  thaw(path.target);
  await delay(THAW_SETTLE_MS, undefined, { signal });
  console.error(`bench: ${path.name} round ${round}: sending ${load.messages} messages`);
  const roundLoad = { ...load, ...(load.mix ? { mix: { batch: round } } : {}) };
  // The mix's messages are made before the CPU sample and the timed window.
  const queue = jobs(roundLoad);
  const tracker = ctx.processes ? trackProcesses(path.target.cpuRoots()) : undefined;
  const before = sampleCpu(path.target.cpuRoots());
  const r = await deliver(path.target, roundLoad, signal, queue);
  const cpu = cpuDelta(before, sampleCpu(path.target.cpuRoots()));
  const processes = tracker?.stop();
  console.error(`bench: ${path.name} round ${round}: ${r.messages} delivered in ${r.deliveredSeconds.toFixed(2)} s (${(r.messages / r.deliveredSeconds).toFixed(1)} msg/s)`);
  path.rounds.push({ r, cpu, ...(processes ? { processes } : {}) });
  freeze(path.target);
}

/** All rounds of a path as one result: messages, seconds and CPU added up. */
function total(path: Running, idleMs: number): PathResult {
  const r: LoadResult = {
    messages: path.rounds.reduce((n, x) => n + x.r.messages, 0),
    deliveredSeconds: path.rounds.reduce((n, x) => n + x.r.deliveredSeconds, 0),
    acceptedSeconds: path.rounds.reduce((n, x) => n + x.r.acceptedSeconds, 0),
  };
  const cpu = path.rounds.map((x) => x.cpu).reduce(addCpu);
  const processes = new Map<string, ProcessUse>();
  for (const x of path.rounds) {
    for (const [k, v] of x.processes ?? []) {
      const sum = processes.get(k) ?? { ms: 0, runs: 0 };
      processes.set(k, { ms: sum.ms + v.ms, runs: sum.runs + v.runs });
    }
  }
  const tracked = path.rounds.some((x) => x.processes !== undefined);
  return { path: path.name, r, cpu, idle: path.idle, idleMs, ...(tracked ? { processes } : {}) };
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

/**
 * With --processes: CPU and runs (wake-ups) per message by component and process name, side by side, largest CPU
 * first, each with the CPU of one of its runs; then the same for all of each path's processes together.
 */
function processReport(results: PathResult[]): void {
  const keys = [...new Set(results.flatMap((x) => [...(x.processes?.keys() ?? [])]))];
  const perMsg = (x: PathResult, key: string) => (x.processes?.get(key)?.ms ?? 0) / x.r.messages;
  const runsPerMsg = (x: PathResult, key: string) => (x.processes?.get(key)?.runs ?? 0) / x.r.messages;
  const usPerRun = (ms: number, runs: number) => (runs > 0 ? ((ms * 1000) / runs).toFixed(0) : '-');
  keys.sort((a, b) => Math.max(...results.map((x) => perMsg(x, b))) - Math.max(...results.map((x) => perMsg(x, a))));
  const rows = [['process (sampled every 200 ms)', ...results.map((x) => `${x.path} ms/msg`), ...results.map((x) => `${x.path} runs/msg`), ...results.map((x) => `${x.path} µs/run`)]];
  for (const k of keys) {
    if (Math.max(...results.map((x) => perMsg(x, k))) < 0.01) continue;
    const cell = (x: PathResult, text: string) => (x.processes?.has(k) ? text : '-');
    rows.push([
      k,
      ...results.map((x) => cell(x, perMsg(x, k).toFixed(2))),
      ...results.map((x) => cell(x, runsPerMsg(x, k).toFixed(1))),
      ...results.map((x) => cell(x, usPerRun(perMsg(x, k), runsPerMsg(x, k)))),
    ]);
  }
  const totals = results.map((x) => ({ ms: keys.reduce((n, k) => n + perMsg(x, k), 0), runs: keys.reduce((n, k) => n + runsPerMsg(x, k), 0) }));
  rows.push(['all processes', ...totals.map((t) => t.ms.toFixed(2)), ...totals.map((t) => t.runs.toFixed(1)), ...totals.map((t) => usPerRun(t.ms, t.runs))]);
  table(rows);
  console.log("runs: times a process's threads were put on a CPU during the rounds (/proc/PID/task/*/schedstat), per delivered message");
}

/** Each round's rates and ratio: how much the ratio moves from round to round on this host. */
function roundReport(paths: Running[]): number[] {
  const [bare, full] = paths;
  if (!bare || !full) return [];
  const rows = [['round', 'bare msgs/s', 'full msgs/s', 'full/bare']];
  const ratios: number[] = [];
  bare.rounds.forEach((b, i) => {
    const f = full.rounds[i];
    if (!f) return;
    const rb = b.r.messages / b.r.deliveredSeconds;
    const rf = f.r.messages / f.r.deliveredSeconds;
    ratios.push(rf / rb);
    rows.push([String(i + 1), rb.toFixed(1), rf.toFixed(1), (rf / rb).toFixed(3)]);
  });
  table(rows);
  return ratios;
}

/** What sent the load, for the title line. */
function sender(opts: Options): string {
  const client = opts.starttls ? 'STARTTLS from the sender (mailfleet\'s SMTP client, a handshake per message)' : 'plaintext (smtp-source)';
  return opts.filtered ? `${client.replace(' (smtp-source)', ' (mailfleet\'s SMTP client, a session per message)')}, every message different, 1 in ${ATTACHMENT_EVERY} with an attachment` : client;
}

function report(opts: Options, results: PathResult[], paths: Running[], verdicts?: Verdicts): void {
  console.log(`delivery bench${opts.filtered ? ', filtered (rspamd + clamd on both paths)' : ''}: ${opts.rounds} round(s) of ${opts.messages} messages of ${opts.sizeBytes} B per path, ${opts.concurrency} sessions, ${opts.recipients} recipients, ${availableParallelism()} CPUs, ${sender(opts)}${opts.quotaCheck ? '' : ', the full path without its RCPT quota check'}`);
  const ratios = roundReport(paths);
  console.log('');
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
  if (verdicts) {
    filterReport(results, verdicts);
    console.log('');
  }
  const rate = (path: string) => {
    const r = results.find((x) => x.path === path)?.r;
    return r ? r.messages / r.deliveredSeconds : NaN;
  };
  const ratio = rate('full') / rate('bare');
  console.log(`full/bare  ${ratio.toFixed(3)} (all rounds)`);
  if (ratios.length > 1) {
    const sorted = [...ratios].sort((a, b) => a - b);
    console.log(`full/bare by round: median ${(sorted[Math.floor(sorted.length / 2)] ?? NaN).toFixed(3)}, min ${(sorted[0] ?? NaN).toFixed(3)}, max ${(sorted.at(-1) ?? NaN).toFixed(3)}`);
  }
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
  const missing = opts.filtered ? filteredPrerequisites() : [];
  if (missing.length > 0) {
    console.error(`bench: --filtered needs ${missing.join(', ')} (scripts/install-debian-packages.sh installs them)`);
    return 1;
  }
  return runBench({ prefix: STATE_PREFIX, keep: opts.keep }, async ({ root, defer, cleanUp, signal }) => {
    const mode = opts.filtered ? filteredMode(root, opts.recipients, opts.quotaCheck) : unfilteredMode(opts.recipients, opts.quotaCheck);
    const { bench } = mode;
    for (const [host, port] of mode.mustBeFree) await assertNothingListens(host, port);
    const load: Load = { messages: opts.messages, sizeBytes: opts.sizeBytes, concurrency: opts.concurrency, sender: `bench@${BENCH_DOMAIN}`, recipients: bench.recipients, starttls: opts.starttls, ...(mode.filtered ? { mix: { batch: 0 } } : {}) };
    const ctx: RunContext = { root, bench, load, idleMs: opts.idleMs, processes: opts.processes, defer, signal, ...(mode.afterWarmUp ? { afterWarmUp: mode.afterWarmUp } : {}) };
    const paths = await bringUpAll(mode.paths, ctx);
    for (const p of paths) await warmUp(p, ctx);
    for (let round = 1; round <= opts.rounds; round++) for (const p of paths) await timedRound(p, round, ctx);
    // Every message the rounds and the warm-up delivered, by rspamd's verdict: any unscanned one fails the run.
    const verdicts: Verdicts | undefined = mode.filtered ? new Map(paths.map((p) => [p.name, scanVerdicts(p.target.mailRoot, bench.recipients)])) : undefined;
    await cleanUp();
    report(opts, paths.map((p) => total(p, opts.idleMs)), paths, verdicts);
    const unscanned = [...(verdicts ?? new Map<string, Map<string, number>>())].filter(([, v]) => (v.get(UNSCANNED) ?? 0) > 0);
    for (const [path, v] of unscanned) console.log(`CHECK FAILED: ${v.get(UNSCANNED)} message(s) delivered on the ${path} path without rspamd's X-Spam-Status`);
    return unscanned.length === 0;
  });
}

process.exitCode = await main();
