import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSpecFile } from '../spec/index.ts';

export const DEFAULT_STATE_DIR = '/var/lib/mailfleet';

/** The state directory: `--state-dir`, else `$MAILFLEET_STATE_DIR`, else the spec's `local.stateDir`, else `/var/lib/mailfleet`. */
export function resolveStateDir(values: { 'state-dir'?: string; file?: string }): string {
  if (values['state-dir']) return resolve(values['state-dir']);
  if (process.env.MAILFLEET_STATE_DIR) return resolve(process.env.MAILFLEET_STATE_DIR);
  if (values.file && existsSync(values.file)) return resolve(loadSpecFile(values.file).spec.local.stateDir);
  return DEFAULT_STATE_DIR;
}
