/**
 * What the config integration tests share: temporary directories, running a checker program, starting
 * a real daemon that is stopped after the test, free loopback ports, and polling with a deadline.
 * Every address is in 127.86.0.0/16, reserved for these tests.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { findProgram, startDaemon } from '../protocol/daemon.ts';

export { findProgram };

const RUN_TIMEOUT_MS = 60_000;
const POLL_STEP_MS = 100;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const cleanups = new WeakMap<TestContext, (() => unknown)[]>();

/**
 * Runs `fn` after the test, in reverse order of registration: a daemon registered after its data
 * directory is stopped before the directory is removed (it may write there while stopping).
 */
export function defer(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (stack === undefined) {
    const fns: (() => unknown)[] = [];
    cleanups.set(t, fns);
    t.after(async () => {
      const failures: unknown[] = [];
      for (let next = fns.pop(); next !== undefined; next = fns.pop()) {
        try {
          await next();
        } catch (err) {
          failures.push(err);
        }
      }
      if (failures.length > 0) throw new AggregateError(failures, 'test cleanup failed');
    });
    stack = fns;
  }
  stack.push(fn);
}

/** A fresh directory, removed after the test (after every daemon started later). */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mailfleet-${prefix}-`));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes every file of a generator's output into `dir`. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

/** Runs a checker to completion (bounded), returning its exit code and output. */
export function run(program: string, args: readonly string[]): RunResult {
  const r = spawnSync(program, args, { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** `run` without blocking the event loop: for clients of servers that live in the test process. */
export function runAsync(program: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(program, args, { encoding: 'utf8', timeout: RUN_TIMEOUT_MS }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr: `${stderr}${err !== null && typeof err.code !== 'number' ? String(err) : ''}` });
    });
  });
}

/** Starts a foreground daemon, waits for `ready` in its output, and stops it (SIGTERM, awaited) after the test. */
export async function startProcess(t: TestContext, program: string, args: readonly string[], ready: RegExp, timeoutMs = 20_000): Promise<void> {
  const daemon = await startDaemon(program, args, ready, timeoutMs);
  defer(t, () => daemon.stop());
}

/** A port free for both TCP and UDP on `host` right now. */
export async function freePort(host: string): Promise<number> {
  for (;;) {
    const server = createServer();
    server.listen(0, host);
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    server.close();
    const udp = createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, host, () => resolve(true));
    });
    udp.close();
    if (free) return port;
  }
}

/** Calls `probe` until it returns a value (not undefined) or `timeoutMs` passes; the last error is in the failure. */
export async function pollUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await delay(POLL_STEP_MS);
  }
}
