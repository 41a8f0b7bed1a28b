/**
 * Where the CPU goes: cumulative CPU time of everything below the bench process, grouped by component, plus
 * the host's busy time, so a run can show which part of a path costs what and how much load came from outside.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
/** Label of the bench process itself and of the children it reaps (the smtp-source load generators). */
const BENCH = 'bench (node)';
const LOAD = 'smtp-source';

export interface CpuSample {
  /** Component → CPU milliseconds used so far (own time plus reaped children). */
  byComponent: Map<string, number>;
  /** Host-wide busy CPU milliseconds (all CPUs, everything on the machine). */
  hostBusyMs: number;
}

interface Proc {
  pid: number;
  ppid: number;
  cmd: string;
  selfMs: number;
  childrenMs: number;
  /** Start time in clock ticks since boot: tells a reused pid from the process that had it before. */
  start: number;
}

function readProcs(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;
      // Fields after the command: state ppid … utime(11) stime(12) cutime(13) cstime(14).
      out.push({
        pid: Number(d),
        ppid: f[1] ?? 0,
        cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' '),
        selfMs: ms((f[11] ?? 0) + (f[12] ?? 0)),
        childrenMs: ms((f[13] ?? 0) + (f[14] ?? 0)),
        start: f[19] ?? 0,
      });
    } catch {
      // exited while reading
    }
  }
  return out;
}

function hostBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const n = fields.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return ((total - idle) * 1000) / TICKS_PER_SECOND;
}

/** Processes the single-host runtime starts beside the agents, by command: the label their CPU is shown under. */
const RUNTIME_CHILDREN: readonly [RegExp, string][] = [
  [/main\.[jt]s policy( |$)/, 'policy (node)'],
  [/main\.[jt]s probe( |$)/, 'probe (node)'],
  [/victoria-metrics|vmalert|alertmanager/, 'monitoring'],
];

/**
 * The label of a process and of the children it reaps. `roots` names daemons the bench started itself; a
 * mailfleet agent (`agent --role R`) is "agent R" and its daemon's tree is R; `mailfleet up` is the runtime, and
 * what it starts besides agents (the policy server, the prober, the monitoring daemons) is labelled by command.
 */
function labels(p: Proc, inherited: string, roots: Map<number, string>): { self: string; children: string } {
  const root = roots.get(p.pid);
  if (root) return { self: root, children: root };
  const role = / agent --role ([a-z]+) /.exec(p.cmd)?.[1];
  if (role) return { self: `agent ${role}`, children: role };
  if (/main\.[jt]s up /.test(p.cmd)) return { self: 'runtime (node)', children: 'runtime (other)' };
  if (inherited === 'runtime (other)') {
    const label = RUNTIME_CHILDREN.find(([re]) => re.test(p.cmd))?.[1];
    if (label) return { self: label, children: label };
  }
  return { self: inherited, children: inherited };
}

/** CPU used so far by the bench's process tree, by component. */
export function sampleCpu(roots: Map<number, string>): CpuSample {
  const procs = readProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const byComponent = new Map<string, number>();
  const add = (label: string, ms: number) => byComponent.set(label, (byComponent.get(label) ?? 0) + ms);
  const self = procs.find((p) => p.pid === process.pid);
  const queue: { p: Proc; inherited: string }[] = [];
  if (self) {
    add(BENCH, self.selfMs);
    add(LOAD, self.childrenMs);
    for (const c of children.get(self.pid) ?? []) queue.push({ p: c, inherited: LOAD });
  }
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const l = labels(item.p, item.inherited, roots);
    add(l.self, item.p.selfMs);
    add(l.children, item.p.childrenMs);
    for (const c of children.get(item.p.pid) ?? []) queue.push({ p: c, inherited: l.children });
  }
  return { byComponent, hostBusyMs: hostBusyMs() };
}

/** CPU milliseconds per component between two samples; `outside` is host busy time not used by the bench's tree. */
export function cpuDelta(before: CpuSample, after: CpuSample): { byComponent: Map<string, number>; oursMs: number; outsideMs: number } {
  const byComponent = new Map<string, number>();
  for (const [label, ms] of after.byComponent) {
    const d = ms - (before.byComponent.get(label) ?? 0);
    if (d > 0) byComponent.set(label, d);
  }
  const oursMs = [...byComponent.values()].reduce((a, b) => a + b, 0);
  return { byComponent, oursMs, outsideMs: Math.max(0, after.hostBusyMs - before.hostBusyMs - oursMs) };
}

/** What one process (or all of a name within a component) used during a window. */
export interface ProcessUse {
  /** CPU milliseconds (utime + stime). */
  ms: number;
  /**
   * Times its threads were put on a CPU (the third field of `/proc/PID/task/TID/schedstat`, summed over its
   * threads): one a wake-up, plus one each time it was preempted. A process that waits on a socket runs once for
   * each time something arrives; what a message costs a hop shows here as runs per message.
   */
  runs: number;
}

/** Runs of a process so far, over all its threads; undefined once it has exited. */
function runsOf(pid: number): number | undefined {
  let runs = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        runs += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[2] ?? 0);
      } catch {
        // the thread ended
      }
    }
  } catch {
    return undefined;
  }
  return runs;
}

/**
 * Per-process CPU and runs during a window, by component and process name (`/proc/PID/comm`: lmtp, auth, smtpd,
 * proxymap, slapd …): which daemon process inside a component costs what, and how often it is woken for it.
 * Polls the bench's process tree every `intervalMs` and sums each process's own figures from its first to its last
 * sighting, so a process that exits loses at most its last interval, and one that lives shorter than an interval is
 * missed; the component totals above stay the exact figures for CPU.
 */
export function trackProcesses(roots: Map<number, string>, intervalMs = 200): { stop: () => Map<string, ProcessUse> } {
  const seen = new Map<string, { key: string; first: ProcessUse; last: ProcessUse }>();
  const tick = (initial: boolean) => {
    const procs = readProcs();
    const children = new Map<number, Proc[]>();
    for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
    const self = procs.find((p) => p.pid === process.pid);
    if (!self) return;
    const queue: { p: Proc; inherited: string }[] = (children.get(self.pid) ?? []).map((p) => ({ p, inherited: LOAD }));
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      const l = labels(item.p, item.inherited, roots);
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${item.p.pid}/comm`, 'utf8').trim();
      } catch {
        // exited
      }
      // A pid is keyed with its start time, so a reused pid is a new process.
      const id = `${item.p.pid}:${item.p.start}`;
      const rec = seen.get(id);
      const runs = runsOf(item.p.pid);
      const now: ProcessUse = { ms: item.p.selfMs, runs: runs ?? rec?.last.runs ?? 0 };
      if (rec) rec.last = now;
      else seen.set(id, { key: `${l.self} ${comm}`, first: initial ? now : { ms: 0, runs: 0 }, last: now });
      for (const c of children.get(item.p.pid) ?? []) queue.push({ p: c, inherited: l.children });
    }
  };
  tick(true);
  const timer = setInterval(() => tick(false), intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick(false);
      const out = new Map<string, ProcessUse>();
      for (const r of seen.values()) {
        const ms = r.last.ms - r.first.ms;
        const runs = r.last.runs - r.first.runs;
        if (ms <= 0 && runs <= 0) continue;
        const sum = out.get(r.key) ?? { ms: 0, runs: 0 };
        out.set(r.key, { ms: sum.ms + Math.max(0, ms), runs: sum.runs + Math.max(0, runs) });
      }
      return out;
    },
  };
}
