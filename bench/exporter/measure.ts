/**
 * One exporter's run: started on an empty log, the whole generated log appended once it is ready, then timed
 * until its /metrics counts every line. CPU, peak memory and the bytes it has read come from /proc, which costs
 * the exporter nothing; /metrics is asked every 20 ms only once it has read as many bytes as the log holds
 * (and every 500 ms before, in case it reads in a way /proc/PID/io does not count), so polling does not slow it
 * down while it reads.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Defer } from '../support/cleanup.ts';
import { assertNothingListens, startDaemon, stopDaemon } from '../support/processes.ts';
import type { Exporter } from './exporters.ts';
import { parseMetrics, scrape, type Families } from './metrics.ts';

/** Clock ticks per second of /proc/PID/stat times (CLK_TCK is 100 on Linux). */
const TICKS_PER_S = 100;
const READY_TIMEOUT_MS = 30_000;
/** Between two looks at /proc, and between scrapes once the exporter has read the whole log. */
const POLL_MS = 20;
/** Between scrapes while it has not. */
const EARLY_SCRAPE_MS = 500;
/** Whole log read and the line count unchanged this long: it has counted all it will. */
const SETTLED_MS = 3000;
/** Neither bytes read nor line count moved this long: the exporter is stuck. */
const STALLED_MS = 60_000;

export interface Run {
  exporter: string;
  /** Lines appended (the generated log). */
  lines: number;
  /** Lines its /metrics counted at the end. */
  seen: number;
  /** Seconds from its first read of the appended log until /metrics counted every line (or, if it never did, until its count last moved). */
  wallS: number;
  /** Milliseconds from the append to its first read (inotify wakes the anchor at once; a polling reader waits for its next look). */
  startMs: number;
  /** CPU seconds (user + system, own and reaped children's) in that window. */
  cpuS: number;
  /** Peak resident memory over the whole process life (VmHWM), MiB. */
  peakMb: number;
  /**
   * Share of the host's CPU (all cores, append → end) busy with processes other than the exporter and the bench:
   * load from outside, which the numbers then measure too.
   */
  otherLoad: number;
  /** Its /metrics at the end. */
  metrics: Families;
  scrapes: number;
}

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime + cutime + cstime of `pid`, in seconds. */
function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0) / TICKS_PER_S;
}

/** CPU seconds the whole host has been busy (user to steal, without idle and iowait), from /proc/stat. */
function hostBusySeconds(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  return (f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0)) / TICKS_PER_S;
}

const benchCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** VmHWM of `pid` in MiB. */
function peakMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

/** Bytes `pid` has read so far with read(2) and its kin, from any descriptor (`rchar` of /proc/PID/io). */
function readChars(pid: number): number {
  return Number(/^rchar: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

/** Appends the file `source` to `target` in 4 MiB writes, as fast as the page cache takes them; the caller polls meanwhile. */
async function append(source: string, target: string): Promise<void> {
  const from = await open(source, 'r');
  const to = await open(target, 'a');
  const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
  try {
    for (let n = (await from.read(chunk)).bytesRead; n > 0; n = (await from.read(chunk)).bytesRead) {
      for (let off = 0; off < n;) off += (await to.write(chunk, off, n - off)).bytesWritten;
    }
  } finally {
    await from.close();
    await to.close();
  }
}

/**
 * Starts `exporter` in `dir` on an empty `mail.log`, appends the generated log `source` (`lines` lines) once it is
 * ready, and measures until it has counted them all. The exporter is stopped before this returns; `defer` gets
 * its stop step in case the run is cut short.
 */
export async function measure(exporter: Exporter, dir: string, source: string, lines: number, defer: Defer, signal: AbortSignal): Promise<Run> {
  const size = statSync(source).size;
  await assertNothingListens(exporter.host, exporter.port);
  const log = join(dir, 'mail.log');
  const out = join(dir, 'exporter.log');
  writeFileSync(log, '');
  const proc = startDaemon(exporter.name, exporter.command(log, dir), out);
  defer(exporter.name, () => stopDaemon(proc));
  const pid = proc.child.pid;
  if (pid === undefined) throw new Error(`${exporter.name} did not start (see ${out})`);
  let exited: number | undefined;
  void proc.exited.then((code) => (exited = code));
  const gone = () => new Error(`${exporter.name} exited with status ${exited} (see ${out})`);

  const readyBy = AbortSignal.any([signal, AbortSignal.timeout(READY_TIMEOUT_MS)]);
  await Promise.race([
    exporter.ready(pid, log, readyBy).catch((err: unknown) => {
      signal.throwIfAborted();
      throw new Error(`${exporter.name}: not ready after ${READY_TIMEOUT_MS / 1000} s (see ${out})`, { cause: err });
    }),
    proc.exited.then(() => Promise.reject(gone())),
  ]);

  const chars0 = readChars(pid);
  const cpu0 = cpuSeconds(pid);
  const host0 = hostBusySeconds();
  const bench0 = benchCpuSeconds();
  const t0 = performance.now();
  let appended: Error | true | undefined;
  void append(source, log).then(() => (appended = true), (err: unknown) => (appended = err as Error));
  let firstRead: number | undefined;
  let seen = -1;
  let lastChars = 0;
  let lastMove = t0;
  let lastScrape = t0;
  let scrapes = 0;
  let metrics: Families = new Map();
  let end: number | undefined;
  while (end === undefined) {
    signal.throwIfAborted();
    if (exited !== undefined) throw gone();
    if (appended instanceof Error) throw new Error(`appending the log for ${exporter.name}: ${appended.message}`);
    const now = performance.now();
    const chars = readChars(pid) - chars0;
    if (chars !== lastChars) {
      firstRead ??= now;
      lastChars = chars;
      lastMove = now;
    }
    const readAll = chars >= size;
    if (firstRead !== undefined && (readAll || now - lastScrape >= EARLY_SCRAPE_MS)) {
      lastScrape = now;
      metrics = parseMetrics(await scrape(exporter.host, exporter.port));
      scrapes++;
      const count = exporter.linesSeen(metrics);
      const at = performance.now();
      if (count !== seen) {
        seen = count;
        lastMove = at;
      }
      if (seen >= lines) end = at;
      else if (readAll && at - lastMove >= SETTLED_MS) end = lastMove;
    }
    if (end === undefined && performance.now() - lastMove >= STALLED_MS) {
      throw new Error(`${exporter.name}: no progress for ${STALLED_MS / 1000} s after reading ${chars} of ${size} bytes, ${Math.max(seen, 0)} lines counted (see ${out})`);
    }
    if (end === undefined) await delay(POLL_MS, undefined, { signal });
  }
  const cpuS = cpuSeconds(pid) - cpu0;
  const otherS = hostBusySeconds() - host0 - cpuS - (benchCpuSeconds() - bench0);
  const otherLoad = Math.max(0, otherS) / (availableParallelism() * ((performance.now() - t0) / 1000));
  const peak = peakMb(pid);
  await stopDaemon(proc);
  const started = firstRead ?? t0;
  return { exporter: exporter.name, lines, seen, wallS: (end - started) / 1000, startMs: started - t0, cpuS, peakMb: peak, otherLoad, metrics, scrapes };
}
