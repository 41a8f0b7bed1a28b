import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync, rmSync } from 'node:fs';
import { Socket, type SocketConstructorOpts } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { allPids, statFields } from '../proc.ts';
import { createLogLineSplitter } from '../protocol/index.ts';
import { livePid } from './daemons.ts';

export type LogFormat = 'raw' | 'json';

export interface DaemonProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit status (128 + signal number when killed by a signal). */
  exited: Promise<number>;
  /**
   * Resolves once every line the daemon and its processes wrote has been relayed: when the last of them has
   * closed its output. Read in batches (RELAY_BATCH_MS), the last lines may still be in the pipe when the
   * master exits.
   */
  relayed: Promise<void>;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGQUIT: 3, SIGABRT: 6, SIGSEGV: 11 };

/**
 * After reading daemon output, the relay leaves the pipe alone this long, so that what the daemon writes
 * meanwhile is read in one go. Postfix writes each log line on its own, about ten per message: read as they
 * come, each would be a wake-up, a read and a write of its own. A pipe holds 64 KiB, at least 150 ms of a busy
 * MTA's log; a daemon that fills it waits until the relay reads again.
 */
export const RELAY_BATCH_MS = 20;

/**
 * Each daemon output line goes to stdout verbatim, or wrapped as a JSON line with role and instance, and to
 * `also` (the Postfix exporter reads the log lines it relays). One write per batch read, not per line: a
 * write to a pipe or file is a system call.
 *
 * `stream` must hold at most one read (a `readableHighWaterMark` of 1, as `fifo` makes it): while the relay
 * waits, the stream stops reading once it holds something, and the rest stays in the pipe for one read later.
 */
function relay(stream: Socket, format: LogFormat, fields: { role: string; instance: string; stream: string }, also?: (line: Buffer) => void): Promise<void> {
  let json: string[] = [];
  // A line longer than the splitter keeps is relayed cut in JSON (its beginning says which process wrote it) and
  // handed cut to `also`; memory stays bounded whatever the daemon writes.
  const lines = createLogLineSplitter((line) => {
    if (format === 'json') json.push(JSON.stringify({ time: new Date().toISOString(), ...fields, msg: line.toString('utf8') }) + '\n');
    also?.(line);
  });
  const flush = (): void => {
    if (json.length > 0) process.stdout.write(json.join(''));
    json = [];
  };
  let waiting = false;
  /** Takes what the stream holds; when there was something, waits before the next read. */
  const take = (): void => {
    let got = false;
    for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null;) {
      got = true;
      // Verbatim: the bytes as the daemon wrote them.
      if (format === 'raw') process.stdout.write(chunk);
      lines.push(chunk);
    }
    flush();
    if (!got) return;
    waiting = true;
    setTimeout(() => {
      waiting = false;
      take();
    }, RELAY_BATCH_MS);
  };
  stream.on('readable', () => {
    if (!waiting) take();
  });
  return new Promise((resolve) => {
    stream.once('end', () => {
      lines.end();
      flush();
      resolve();
    });
    stream.once('error', () => resolve());
  });
}

/**
 * A named pipe for one output stream. Node's own stdio pipes are socketpairs, and daemons that open
 * `/dev/stdout` by name (Postfix's `maillog_file`) cannot open a socket; a FIFO they can.
 */
function fifo(path: string): { reader: Socket; writeFd: number } {
  rmSync(path, { force: true });
  execFileSync('mkfifo', ['-m', '0600', path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY);
  // Holding at most one read (see relay); Node takes the stream option, its types do not list it.
  const options: SocketConstructorOpts & { readableHighWaterMark: number } = { fd: readFd, readable: true, writable: false, readableHighWaterMark: 1 };
  return { reader: new Socket(options), writeFd };
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve) => {
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 1 : 1)));
  });
}

export interface SpawnOptions {
  format: LogFormat;
  role: string;
  instance: string;
  runDir: string;
  /** Also told every line the daemon writes to stdout (then always relayed through the agent, even in raw format). */
  onStdoutLine?: (line: Buffer) => void;
}

/** Settings of the agent's own allocator (bin/mailfleet), not for its daemon: that keeps glibc's defaults. */
const AGENT_ONLY_ENV = ['MALLOC_MMAP_THRESHOLD_'];

function daemonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of AGENT_ONLY_ENV) delete env[name];
  return env;
}

/**
 * The daemon leads a process group of its own (`detached`), which its helper processes join: what is left of
 * it when its master has gone is found by that group (`endProcessGroup`). Signals for the daemon are sent to
 * its master by the agent, never by a terminal.
 */
export function spawnDaemon(argv: string[], options: SpawnOptions): DaemonProcess {
  const [file, ...args] = argv;
  if (file === undefined) throw new TypeError('empty daemon command');
  if (options.format === 'raw' && options.onStdoutLine === undefined && !fstatSync(1).isSocket() && !fstatSync(2).isSocket()) {
    // Verbatim lines need no relay: the daemon writes to our stdout itself (a file or a pipe can be
    // opened as /dev/stdout; only a socket cannot).
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true, env: daemonEnv() });
    return { child, pid: child.pid ?? -1, exited: exitOf(child), relayed: Promise.resolve() };
  }
  const out = fifo(join(options.runDir, 'agent-stdout.fifo'));
  const err = fifo(join(options.runDir, 'agent-stderr.fifo'));
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: ['ignore', out.writeFd, err.writeFd], detached: true, env: daemonEnv() });
  } finally {
    closeSync(out.writeFd);
    closeSync(err.writeFd);
  }
  const exited = exitOf(child);
  const relayed = Promise.all([
    relay(out.reader, options.format, { role: options.role, instance: options.instance, stream: 'stdout' }, options.onStdoutLine),
    relay(err.reader, options.format, { role: options.role, instance: options.instance, stream: 'stderr' }),
  ]).then(() => undefined);
  return { child, pid: child.pid ?? -1, exited, relayed };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone or `timeoutMs` passed; true when gone. */
export async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

/**
 * The live members of a process group. Zombies do not count: a master that exits before reaping its children
 * leaves them as zombies in the group until someone reaps them (never, when the agent is a container's
 * PID 1), and `kill(-pgid, 0)` would call the group alive all that time.
 */
function liveGroupMembers(pgid: number): number[] {
  return allPids().filter((pid) => {
    const fields = statFields(pid);
    return fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z';
  });
}

/**
 * Ends what is left of a daemon's process group once its master is gone: Dovecot keeps the processes that
 * hold clients through a reload and a stop (`shutdown_clients = no`), and a crashed master leaves its
 * helpers. SIGTERM first, SIGKILL to those still there after `graceMs`. True when something was left.
 * The group's id cannot be taken by a new process while any member (zombies too) is left, so the signals
 * reach only them.
 */
export async function endProcessGroup(pgid: number, graceMs: number): Promise<boolean> {
  if (pgid <= 1 || liveGroupMembers(pgid).length === 0) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // gone meanwhile
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (liveGroupMembers(pgid).length > 0) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      break;
    }
    await delay(50);
  }
  return true;
}

/**
 * A daemon left running by an earlier incarnation (agent killed with -9) would hold the queue lock or the
 * listening socket: stop it before starting a new one.
 */
export async function reapOrphans(pidFiles: string[], exe: string, log: Logger): Promise<void> {
  for (const file of pidFiles) {
    const pid = livePid(file, exe);
    if (pid === undefined || pid === process.pid) continue;
    log.warn({ pid, pidFile: file }, 'stopping orphaned daemon');
    process.kill(pid, 'SIGTERM');
    if (!(await waitGone(pid, 5000))) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 2000);
    }
    // Its helper processes, in the group it led.
    await endProcessGroup(pid, 2000);
  }
}
