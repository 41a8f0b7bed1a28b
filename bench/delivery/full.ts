/** The path under test: the whole platform brought up with `mailfleet up`, mail sent to its `mta`. */
import { execFile, spawn } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { instanceContext } from '../../src/agent/index.ts';
import type { StatusReport } from '../../src/runtime/local/index.ts';
import type { BenchSpec } from './spec.ts';
import type { Defer, DeliveryTarget } from './target.ts';

const run = promisify(execFile);

const MAILFLEET = fileURLToPath(new URL('../../bin/mailfleet', import.meta.url));
const UP_TIMEOUT_MS = 180_000;
const DOWN_TIMEOUT_MS = 150_000;
const EXIT_TIMEOUT_MS = 20_000;
const UP_MARKER = 'mailfleet: platform is up';

/** Waits for `mailfleet up` to say the platform is up; rejects when it exits first, on timeout or abort. */
function waitUp(child: ReturnType<typeof spawn>, logFile: string, signal: AbortSignal): Promise<void> {
  const log = createWriteStream(logFile, { flags: 'a' });
  let text = '';
  return new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      const tail = text.trim().split('\n').slice(-8).join('\n');
      reject(new Error(`mailfleet up: ${why}\n${tail}\n(full output: ${logFile})`));
    };
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      if (text.length < 64_000) text += chunk.toString('utf8');
      if (text.includes(UP_MARKER)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null) => fail(`exited (${code ?? 'signal'}) before the platform was up`);
    const onError = (err: Error) => fail(`could not start: ${err.message}`);
    const onAbort = () => fail('interrupted');
    const timer = setTimeout(() => fail(`not up after ${UP_TIMEOUT_MS / 1000} s`), UP_TIMEOUT_MS);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    // Keep draining stderr into the log after the marker, so the runtime never blocks on a full pipe.
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Stops the platform: `mailfleet down` (which waits), then the `up` process itself; SIGTERM/SIGKILL as fallbacks. */
async function stopPlatform(child: ReturnType<typeof spawn>, exited: Promise<unknown>, stateDir: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    await run(MAILFLEET, ['down', '--state-dir', stateDir], { timeout: DOWN_TIMEOUT_MS });
  } catch (err) {
    console.error(`bench: mailfleet down failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); sending SIGTERM`);
    child.kill('SIGTERM');
  }
  if ((await Promise.race([exited, delay(EXIT_TIMEOUT_MS, 'timeout' as const, { ref: false })])) !== 'timeout') return;
  console.error('bench: mailfleet up did not exit; killing its process group');
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
  await exited;
}

/** The first ready instance of `role` and one of its ports, from `mailfleet status --json`. */
export async function readyEndpoint(stateDir: string, role: string, port: string): Promise<{ host: string; port: number }> {
  const { stdout } = await run(MAILFLEET, ['status', '--json', '--state-dir', stateDir]);
  const report = JSON.parse(stdout) as StatusReport;
  const instance = report.instances.find((i) => i.role === role && i.state === 'running' && i.ready);
  const number = instance?.ports[port];
  if (!instance || number === undefined) throw new Error(`mailfleet status shows no ready ${role} with a ${port} port: ${stdout.slice(0, 400)}`);
  return { host: instance.address, port: number };
}

/** Brings the platform up under `root`, registers its stop step, and returns its mta once everything is ready. */
export async function startFull(root: string, bench: BenchSpec, defer: Defer, signal: AbortSignal): Promise<DeliveryTarget> {
  mkdirSync(root, { recursive: true });
  const specFile = join(root, 'spec.yaml');
  const stateDir = join(root, 'state');
  const logFile = join(root, 'up.log');
  writeFileSync(specFile, bench.text);
  const out = openSync(logFile, 'a');
  const child = spawn(MAILFLEET, ['up', '-f', specFile, '--state-dir', stateDir], { stdio: ['ignore', out, 'pipe'], detached: true });
  closeSync(out);
  const exited = new Promise((resolve) => {
    child.once('error', resolve);
    child.once('exit', resolve);
  });
  defer('full platform', () => stopPlatform(child, exited, stateDir));
  await waitUp(child, logFile, signal);
  const mta = await readyEndpoint(stateDir, 'mta', 'smtp');
  return {
    name: 'full',
    stateDir,
    smtpHost: mta.host,
    smtpPort: mta.port,
    mailRoot: instanceContext(stateDir, 'mailbox', 'mailbox-0', mta.host).mailDir,
    logs: join(stateDir, 'logs'),
    cpuRoots: () => new Map(),
    processRoots: () => (child.pid === undefined ? [] : [child.pid]),
  };
}
