import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { controlRequest, controlSocket } from '../runtime/local/index.ts';
import { parse } from './args.ts';
import { resolveStateDir } from './state.ts';

const USAGE = 'mailfleet down [--state-dir DIR | -f SPEC]';
const DOWN_TIMEOUT_MS = 120_000;

/** A runtime that has exited but not been reaped by its parent (a zombie) counts as gone. */
function runtimeAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
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
  const deadline = Date.now() + DOWN_TIMEOUT_MS;
  while (pid > 0 && runtimeAlive(pid) && Date.now() < deadline) await delay(200);
  if (pid > 0 && runtimeAlive(pid)) {
    process.stderr.write(`mailfleet: runtime (pid ${pid}) still stopping after ${DOWN_TIMEOUT_MS / 1000} s\n`);
    return 1;
  }
  process.stderr.write('mailfleet: stopped\n');
  return 0;
}
