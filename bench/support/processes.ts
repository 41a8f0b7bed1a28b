/**
 * Processes a benchmark starts: spawning daemons in their own process group, stopping them by pid,
 * and proving afterwards that nothing it started is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { allPids, statFields } from '../../src/proc.ts';

export const STOP_TIMEOUT_MS = 15_000;
const POLL_INTERVAL_MS = 100;

/** A daemon started by the bench; `exited` resolves with its exit code (or 128 + signal). */
export interface Started {
  name: string;
  child: ChildProcess;
  exited: Promise<number>;
}

/** Starts `argv` detached (own process group, so a terminal Ctrl-C reaches only the bench), output appended to `logFile`. */
export function startDaemon(name: string, argv: string[], logFile: string): Started {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new TypeError(`${name}: empty command`);
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGKILL' ? 137 : 143)));
  });
  return { name, child, exited };
}

/**
 * SIGTERM, then waits until the daemon and every process below it are gone (a Postfix master exits before its
 * children do); whatever remains after `timeoutMs` gets SIGKILL. Never throws.
 */
export async function stopDaemon(proc: Started, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  const pid = proc.child.pid;
  if (pid === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const tree = processTree([pid]);
  proc.child.kill('SIGTERM');
  const deadline = Date.now() + timeoutMs;
  await Promise.race([proc.exited, delay(timeoutMs, undefined, { ref: false })]);
  while (survivors(tree).length > 0 && Date.now() < deadline) await delay(POLL_INTERVAL_MS);
  for (const p of survivors(tree)) signal(p, 'SIGKILL');
  await proc.exited;
}

/**
 * Stops a daemon the bench did not spawn directly (one that forked into the background and left its pid in a
 * file): SIGTERM to `pid`, then waits until it and every process below it are gone; whatever remains after
 * `timeoutMs` gets SIGKILL. Never throws.
 */
export async function stopProcessTree(pid: number, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
  const tree = processTree([pid]);
  if (tree.size === 0) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (survivors(tree).length > 0 && Date.now() < deadline) await delay(POLL_INTERVAL_MS);
  for (const p of survivors(tree)) signal(p, 'SIGKILL');
}

/** A process as /proc shows it; `start` (clock ticks since boot) tells a live pid from a reused one. */
interface ProcEntry {
  pid: number;
  ppid: number;
  start: string;
  /** Exited and waiting to be reaped (`Z`, `X`): no longer running anything. */
  dead: boolean;
}

function readProc(pid: number): ProcEntry | undefined {
  const fields = statFields(pid);
  return fields === undefined ? undefined : { pid, ppid: Number(fields[1]), start: fields[19] ?? '', dead: fields[0] === 'Z' || fields[0] === 'X' };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** Every live process below `roots` (roots included), by pid → start time. */
export function processTree(roots: number[]): Map<number, string> {
  const entries = allPids().map(readProc).filter((e): e is ProcEntry => e !== undefined && !e.dead);
  const children = new Map<number, ProcEntry[]>();
  for (const e of entries) children.set(e.ppid, [...(children.get(e.ppid) ?? []), e]);
  const out = new Map<number, string>();
  const queue = entries.filter((e) => roots.includes(e.pid));
  for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
    if (out.has(e.pid)) continue;
    out.set(e.pid, e.start);
    queue.push(...(children.get(e.pid) ?? []));
  }
  return out;
}

/**
 * Processes the bench started that are still alive: members of an earlier `processTree` snapshot with the same
 * start time, and anything whose command line names one of the bench's directories (daemon masters carry their
 * config or state path there).
 */
/** Members of a `processTree` snapshot still running (same start time, not a zombie). */
function survivors(snapshot: Map<number, string>): number[] {
  return [...snapshot].filter(([pid, start]) => {
    const now = readProc(pid);
    return now !== undefined && !now.dead && now.start === start && pid !== process.pid;
  }).map(([pid]) => pid);
}

export function leftovers(snapshot: Map<number, string>, dirs: string[]): { pid: number; cmd: string }[] {
  const out = new Map<number, string>();
  for (const pid of survivors(snapshot)) out.set(pid, cmdline(pid));
  for (const pid of allPids()) {
    if (pid === process.pid || out.has(pid) || readProc(pid)?.dead !== false) continue;
    const cmd = cmdline(pid);
    if (dirs.some((d) => cmd.includes(d))) out.set(pid, cmd);
  }
  return [...out].map(([pid, cmd]) => ({ pid, cmd }));
}

/** Stops leftover processes by pid (SIGTERM, then SIGKILL after `timeoutMs`); returns what was found. */
export async function reapLeftovers(snapshot: Map<number, string>, dirs: string[], timeoutMs = 5000): Promise<{ pid: number; cmd: string }[]> {
  const found = leftovers(snapshot, dirs);
  for (const { pid } of found) signal(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (leftovers(snapshot, dirs).length > 0 && Date.now() < deadline) await delay(POLL_INTERVAL_MS);
  for (const { pid } of leftovers(snapshot, dirs)) signal(pid, 'SIGKILL');
  return found;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** One greeting from a line-based server (SMTP or LMTP): resolves with its first line. */
export function greeting(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const end = buf.indexOf('\n');
      if (end < 0) return;
      socket.end('QUIT\r\n');
      resolve(buf.slice(0, end).trim());
    });
    socket.on('timeout', () => socket.destroy(new Error('no greeting')));
    socket.on('error', reject);
  });
}

/** Waits until `host:port` greets with 220, the process exits, or the deadline passes. */
export async function waitGreeting(host: string, port: number, proc: Started, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  let gone = false;
  void proc.exited.then(() => {
    gone = true;
  });
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (gone) throw new Error(`${proc.name} exited before ${host}:${port} answered`);
    try {
      const line = await greeting(host, port, 2000);
      if (line.startsWith('220')) return;
      last = line;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await delay(POLL_INTERVAL_MS);
  }
  throw new Error(`${proc.name}: ${host}:${port} not ready after ${timeoutMs / 1000} s (${last})`);
}

/** Waits until `host:port` accepts a TCP connection; throws when `alive()` turns false first or after `timeoutMs`. */
export async function waitListening(name: string, host: string, port: number, alive: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (!alive()) throw new Error(`${name} exited before ${host}:${port} accepted connections`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port, timeout: 1000 });
      socket.on('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(false));
    });
    if (accepted) return;
    await delay(POLL_INTERVAL_MS / 2);
  }
  throw new Error(`${name}: ${host}:${port} not accepting connections after ${timeoutMs / 1000} s`);
}

/** Throws when something already answers on `host:port` (a daemon left by an earlier, killed run would be measured instead). */
export async function assertNothingListens(host: string, port: number): Promise<void> {
  const answered = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
  if (answered) throw new Error(`${host}:${port} is already in use; a process from an earlier run may be left behind (see ps)`);
}
