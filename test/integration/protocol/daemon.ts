/**
 * Starts a real daemon (Dovecot, Redis) in the foreground for a test file, waits for the log line
 * that says it listens, and stops it afterwards. Nothing is left running after the file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Daemon {
  stop(): Promise<void>;
}

/** Full path of `program` on PATH (plus the sbin directories), or undefined. */
export function findProgram(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'];
  for (const dir of dirs) {
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Spawns `program` and resolves once a line of its stdout or stderr matches `ready`; rejects if it exits first or `timeoutMs` passes. */
export async function startDaemon(program: string, args: readonly string[], ready: RegExp, timeoutMs = 10_000): Promise<Daemon> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  try {
    await waitForLine(child, ready, output, AbortSignal.timeout(timeoutMs));
  } catch (cause) {
    await stop(child);
    throw new Error(`${program} did not start:\n${output.join('\n')}`, { cause });
  }
  return { stop: () => stop(child) };
}

function waitForLine(child: ChildProcess, ready: RegExp, output: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (ready.test(line)) resolve();
      });
    }
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    child.once('error', reject);
    signal.addEventListener('abort', () => reject(new Error('no ready line before the deadline', { cause: signal.reason })), { once: true });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
