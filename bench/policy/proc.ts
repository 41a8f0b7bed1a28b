/**
 * What /proc says about a server's process tree (postfwd is a master, a cache daemon and a pre-forked child per
 * connection; the others are one process): CPU time, resident memory now and at its peak, and the host's busy
 * time, so a run can tell its own load from its neighbours'. Reading /proc costs the measured processes nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/PID/stat times (CLK_TCK is 100 on Linux). */
const TICKS_PER_S = 100;

export interface TreeSample {
  /** pid → start time (clock ticks since boot), which tells a live process from a reused pid. */
  pids: Map<number, string>;
  /** CPU seconds, own and reaped children's (utime + stime + cutime + cstime), of every process of the tree. */
  cpuS: number;
  /** Sum of VmRSS, MiB. */
  rssMb: number;
  /** Sum of VmHWM (each process's own peak), MiB. */
  hwmMb: number;
}

interface Proc {
  pid: number;
  ppid: number;
  start: string;
  cpuS: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readProc(pid: number): Proc | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X') return undefined;
  const cpu = [11, 12, 13, 14].reduce((sum, i) => sum + Number(f[i] ?? 0), 0) / TICKS_PER_S;
  return { pid, ppid: Number(f[1]), start: f[19] ?? '', cpuS: cpu };
}

function statusKb(pid: number, field: string): number {
  const text = read(`/proc/${pid}/status`);
  if (text === undefined) return 0;
  const at = text.indexOf(`\n${field}:`);
  return at < 0 ? 0 : Number.parseInt(text.slice(at + field.length + 2).trimStart(), 10) || 0;
}

/** Every live process below (and including) `roots`. */
export function treeOf(roots: number[]): Proc[] {
  const procs: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p) procs.push(p);
  }
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out = new Map<number, Proc>();
  const queue = procs.filter((p) => roots.includes(p.pid));
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    if (out.has(p.pid)) continue;
    out.set(p.pid, p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return [...out.values()];
}

export function sampleTree(roots: number[]): TreeSample {
  const tree = treeOf(roots);
  let rss = 0;
  let hwm = 0;
  for (const p of tree) {
    rss += statusKb(p.pid, 'VmRSS');
    hwm += statusKb(p.pid, 'VmHWM');
  }
  return {
    pids: new Map(tree.map((p) => [p.pid, p.start])),
    cpuS: tree.reduce((sum, p) => sum + p.cpuS, 0),
    rssMb: rss / 1024,
    hwmMb: hwm / 1024,
  };
}

/**
 * Proportional set size of the tree (`Pss` of /proc/PID/smaps_rollup), MiB: pages shared by several processes
 * (postfwd's children share what they inherited from their parent) count once in total, not once per process.
 */
export function treePssMb(roots: number[]): number {
  let kb = 0;
  for (const p of treeOf(roots)) {
    const m = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${p.pid}/smaps_rollup`) ?? '');
    kb += Number(m?.[1] ?? 0);
  }
  return kb / 1024;
}

/** CPU seconds the whole host has been busy (user to steal, without idle and iowait), from /proc/stat. */
export function hostBusyS(): number {
  const f = (read('/proc/stat')?.split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
  return (f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0)) / TICKS_PER_S;
}

/** CPU seconds (own and reaped children's) of one process, or NaN once it is gone. */
export function processCpuS(pid: number): number {
  return readProc(pid)?.cpuS ?? NaN;
}
