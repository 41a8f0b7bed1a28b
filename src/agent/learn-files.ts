import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LEARN_CLI_TOKEN, LEARN_DIR, LEARN_FILES, LEARN_PROGRAM, LEARN_SCRIPTS, VMAIL_USER } from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { account, ensureDir, PRIVILEGED } from './fs.ts';

const run = promisify(execFile);

/**
 * The launcher of this CLI, which the learn program runs (`mailfleet learn`): bin/mailfleet next to dist/ (or src/),
 * `/opt/mailfleet/bin/mailfleet` in the images.
 */
export const LAUNCHER = fileURLToPath(new URL('../../bin/mailfleet', import.meta.url));

/**
 * Moves a backend's learning files (src/config/dovecot-learn.ts) from the config dir into LEARN_DIR, where the mail
 * processes (vmail) may read them and nobody else but root: the directory and files belong to root, group vmail;
 * only the learn program is executable. The scripts are compiled here, as Dovecot running as vmail could not save
 * a binary next to them. The learn program gets the path of this CLI's launcher. Without the files (rspamd does not
 * run), LEARN_DIR is removed.
 */
export async function installLearnFiles(configDir: string): Promise<void> {
  const dir = join(configDir, LEARN_DIR);
  if (!existsSync(join(configDir, LEARN_PROGRAM))) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  ensureDir(dir, 0o750);
  const gid = PRIVILEGED ? account(VMAIL_USER).gid : undefined;
  const own = (path: string, mode: number): void => {
    chmodSync(path, mode);
    if (gid !== undefined) chownSync(path, 0, gid);
  };
  own(dir, 0o750);
  const program = join(configDir, LEARN_PROGRAM);
  writeFileSync(program, readFileSync(program, 'utf8').replaceAll(LEARN_CLI_TOKEN, LAUNCHER));
  for (const name of LEARN_FILES) {
    renameSync(join(configDir, name), join(dir, name));
    own(join(dir, name), name === LEARN_PROGRAM ? 0o750 : 0o640);
  }
  for (const script of LEARN_SCRIPTS) {
    try {
      await run('sievec', ['-c', join(configDir, 'dovecot.conf'), join(dir, script)]);
    } catch (err) {
      throw new MailfleetError('INSTANCE_START_FAILED', `sievec failed for ${script}: ${String((err as { stderr?: string }).stderr ?? err).trim()}`, { cause: err });
    }
  }
  for (const name of readdirSync(dir)) if (name.endsWith('.svbin')) own(join(dir, name), 0o640);
}
