import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Every instance's log and the runtime's are root's: daemons log user names, client addresses, queue ids. */
export const LOG_DIR_MODE = 0o700;
export const LOG_FILE_MODE = 0o600;

export function logsDir(stateDir: string): string {
  return join(resolve(stateDir), 'logs');
}

/** The logs dir, root's only; log files an earlier run left readable by others are made root's too. */
export function privateLogs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, LOG_DIR_MODE);
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isFile()) chmodSync(join(dir, entry.name), LOG_FILE_MODE);
}
