import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The compiled CLI: what bin/mailfleet, every single-host instance and the images run. */
export const CLI_MAIN = join(REPO, 'dist', 'cli', 'main.js');

let built = false;

/**
 * Brings dist/ up to date with src/ (scripts/build: a no-op when nothing changed), once per test process, so that a
 * test file run on its own exercises the CLI as users run it. Returns CLI_MAIN; throws with the build's output.
 */
export function ensureBuilt(): string {
  if (built) return CLI_MAIN;
  const r = spawnSync(join(REPO, 'scripts', 'build'), ['--quiet'], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`scripts/build failed (${r.status ?? r.signal}):\n${r.stderr}${r.stdout}`);
  built = true;
  return CLI_MAIN;
}
