/**
 * What /proc says about one process: resident memory, CPU time to the nanosecond, and when it was exec'd.
 * Reading /proc costs the measured process nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (CLK_TCK is 100 on Linux). */
const TICKS_PER_S = 100;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resident set size in KiB (VmRSS of /proc/PID/status), or undefined once the process is gone. */
export function rssKb(pid: number): number | undefined {
  const line = read(`/proc/${pid}/status`)?.split('\n').find((l) => l.startsWith('VmRSS:'));
  return line === undefined ? undefined : Number(line.split(/\s+/)[1]);
}

/**
 * CPU time so far of every live thread of `pid`, by thread id, in ns (first field of
 * /proc/PID/task/TID/schedstat: time spent on a CPU, not rounded to clock ticks as utime/stime are).
 */
export function threadCpuNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ns = Number(read(`/proc/${pid}/task/${tid}/schedstat`)?.split(' ')[0]);
    if (Number.isFinite(ns)) out.set(Number(tid), ns);
  }
  return out;
}

/**
 * Accumulates a process's CPU time over a window from repeated `threadCpuNs` samples: each thread counts from
 * its first sample to its last (a thread born inside the window from zero), so threads that come and go between
 * samples are counted up to their last sample.
 */
export function cpuMeter(pid: number): { sample(): void; totalNs(): number } {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  let started = false;
  return {
    sample() {
      for (const [tid, ns] of threadCpuNs(pid)) {
        if (!first.has(tid)) first.set(tid, started ? 0 : ns);
        last.set(tid, ns);
      }
      started = true;
    },
    totalNs: () => [...last].reduce((sum, [tid, ns]) => sum + ns - (first.get(tid) ?? ns), 0),
  };
}

/** Milliseconds since the epoch at which the machine booted, to the clock tick. */
function bootEpochMs(): number {
  const uptimeS = Number(read('/proc/uptime')?.split(' ')[0]);
  return Date.now() - uptimeS * 1000;
}

/** When `pid` was exec'd: its start time (field 22 of /proc/PID/stat) in clock ticks after boot; tells a pid from a reused one. */
export function startTicks(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/** When `pid` was exec'd, in epoch ms (to the clock tick). */
export function execEpochMs(pid: number): number | undefined {
  const ticks = startTicks(pid);
  return ticks === undefined ? undefined : bootEpochMs() + (ticks * 1000) / TICKS_PER_S;
}

/** The command line of `pid`, arguments separated by spaces. */
export function cmdline(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? '').replaceAll('\0', ' ').trim();
}

/** The live process whose command line holds every one of `parts`, if exactly one does. */
export function findProcess(parts: string[]): number | undefined {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    const cmd = cmdline(Number(d));
    if (parts.every((p) => cmd.includes(p))) found.push(Number(d));
  }
  return found.length === 1 ? found[0] : undefined;
}
