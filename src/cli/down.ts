import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { statFields } from '../proc.ts';
import { controlRequest, controlSocket } from '../runtime/local/index.ts';
import { parse } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet down [--state-dir DIR | -f SPEC]';
/**
 * The runtime bounds every instance's stop itself (its drain budget, then the daemon's stop) and stops the roles
 * one after the other: this is only a last resort against a runtime that hangs.
 */
const DOWN_TIMEOUT_MS = 600_000;
/** How often a long stop says what it still waits for. */
const PROGRESS_MS = 10_000;

/** What a stop still waits for, as the runtime's status tells; undefined when it no longer answers. */
async function stopProgress(stateDir: string): Promise<string | undefined> {
  try {
    const { body } = await controlRequest(controlSocket(stateDir), 'GET', '/v1/status');
    const instances = (body as { instances?: { name: string; state: string }[] } | undefined)?.instances ?? [];
    const stopping = instances.filter((i) => i.state === 'terminating').map((i) => i.name);
    const queued = instances.filter((i) => i.state !== 'terminating' && i.state !== 'stopped').length;
    if (stopping.length === 0 && queued === 0) return undefined;
    return `${stopping.length > 0 ? `draining ${stopping.join(', ')}` : 'between roles'}${queued > 0 ? `; ${queued} more to stop after` : ''}`;
  } catch {
    return undefined;
  }
}

/** A runtime that has exited but not been reaped by its parent (a zombie) counts as gone. */
function runtimeAlive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** Asks the runtime to stop everything and waits until it has exited. */
export async function downCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { 'state-dir': { type: 'string', short: 's' }, file: { type: 'string', short: 'f' } }, USAGE);
  const stateDir = resolveStateDir(values);
  let pid: number;
  try {
    pid = Number(readFileSync(join(stateDir, 'runtime.pid'), 'utf8').trim());
  } catch {
    pid = 0;
  }
  await controlRequest(controlSocket(stateDir), 'POST', '/v1/down');
  process.stderr.write('mailfleet: stopping…\n');
  const started = Date.now();
  const deadline = started + DOWN_TIMEOUT_MS;
  let nextProgress = started + PROGRESS_MS;
  while (pid > 0 && runtimeAlive(pid) && Date.now() < deadline) {
    await delay(200);
    if (Date.now() < nextProgress) continue;
    nextProgress += PROGRESS_MS;
    const progress = await stopProgress(stateDir);
    if (progress !== undefined) {
      process.stderr.write(`mailfleet: still stopping after ${Math.round((Date.now() - started) / 1000)} s (each instance drains within spec.drainSeconds): ${progress}\n`);
    }
  }
  if (pid > 0 && runtimeAlive(pid)) {
    process.stderr.write(`mailfleet: runtime (pid ${pid}) still stopping after ${DOWN_TIMEOUT_MS / 1000} s\n`);
    return 1;
  }
  process.stderr.write('mailfleet: stopped\n');
  return 0;
}
