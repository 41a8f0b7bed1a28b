/**
 * The daemons of the filter roles under the agent: rspamd (`as`) and clamd (`av`). Both run in the foreground
 * with logs on stderr; as root (the single host) each drops to its package's account, in a pod each runs as that
 * account already.
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  CLAMAV_USER, CLAMD, CLAMD_CONF, filterConfigInput, roleConfigFiles, RSPAMD_LOCAL_D, RSPAMD_OVERRIDE_PREFIX, rspamdArguments, SIGNATURE_FILE_PATTERN,
  type ConfigInput,
} from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import type { Daemon, DaemonInput, StartBlocker } from './daemon.ts';
import { ensureDir, freshDir, PRIVILEGED, writeConfigFiles } from './fs.ts';

/** The account rspamd's workers run as (Debian's package). */
export const RSPAMD_USER = '_rspamd';

function installConfig(input: DaemonInput, group: string): void {
  const files = (input.configSource ?? ((i: ConfigInput) => roleConfigFiles(i.instance.role, i)))(input);
  writeConfigFiles(input.instance.configDir, files, group);
}

/**
 * `local.d` → `.` in the config directory (see RSPAMD_LOCAL_D), and `override.d/<module>.conf` → each generated
 * `override.<module>.conf` (RSPAMD_OVERRIDE_PREFIX); whatever was there before is replaced.
 */
export function linkRspamdIncludes(configDir: string): void {
  const link = join(configDir, RSPAMD_LOCAL_D.name);
  rmSync(link, { recursive: true, force: true });
  symlinkSync(RSPAMD_LOCAL_D.target, link);
  const overrides = join(configDir, 'override.d');
  rmSync(overrides, { recursive: true, force: true });
  mkdirSync(overrides, { mode: 0o755 });
  for (const name of readdirSync(configDir)) {
    if (name.startsWith(RSPAMD_OVERRIDE_PREFIX) && name.endsWith('.conf')) symlinkSync(join('..', name), join(overrides, name.slice(RSPAMD_OVERRIDE_PREFIX.length)));
  }
}

export const rspamd: Daemon = {
  async init(input) {
    const { instance } = input;
    ensureDir(instance.dataDir, 0o750, RSPAMD_USER);
    freshDir(instance.runDir, 0o750);
    // The workers write their pid file, control socket and temporary files there as rspamd's account.
    ensureDir(instance.runDir, 0o750, RSPAMD_USER);
    installConfig(input, RSPAMD_USER);
    linkRspamdIncludes(instance.configDir);
  },
  command: (input) => rspamdArguments(input.instance, PRIVILEGED ? RSPAMD_USER : undefined),
  async reload(input, pid) {
    // Peers moved (kvs, av): new files, and rspamd re-reads them and restarts its workers gracefully.
    installConfig(input, RSPAMD_USER);
    linkRspamdIncludes(input.instance.configDir);
    process.kill(pid, 'SIGHUP');
  },
  pidFiles: (input) => [join(input.instance.runDir, 'rspamd.pid')],
  agentWritesPidFile: true,
  userSignals: { SIGUSR1: 'reopens its logs' },
};

/** Whether `dir` holds at least one file clamd loads signatures from. */
export function hasSignatures(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => SIGNATURE_FILE_PATTERN.test(f));
  } catch {
    return false;
  }
}

/** clamd refuses to start on an empty database: it waits for a signature file in its directory. */
function signaturesMissing(input: ConfigInput): StartBlocker | undefined {
  const dir = filterConfigInput(input).signaturesDir;
  if (dir === undefined) return { detail: 'no signature directory', directory: '(none)' };
  return hasSignatures(dir) ? undefined : { detail: `no signatures in ${dir} yet; clamd never starts on an empty database`, directory: dir };
}

export const clamd: Daemon = {
  startBlocker: signaturesMissing,
  async init(input) {
    const { instance } = input;
    // Said here rather than in clamd's log.
    const missing = signaturesMissing(input);
    if (missing !== undefined) throw new MailfleetError('INSTANCE_START_FAILED', `${instance.name}: ${missing.detail}`);
    ensureDir(instance.dataDir, 0o750, CLAMAV_USER);
    freshDir(instance.runDir, 0o750);
    ensureDir(instance.runDir, 0o750, CLAMAV_USER);
    installConfig(input, CLAMAV_USER);
  },
  command: (input) => [CLAMD, '--foreground', `--config-file=${join(input.instance.configDir, CLAMD_CONF)}`],
  async reload(input) {
    // clamd's config names no peer; its signatures it checks by itself (SelfCheck).
    installConfig(input, CLAMAV_USER);
  },
  pidFiles: (input) => [join(input.instance.runDir, 'clamd.pid')],
  userSignals: { SIGUSR2: 'reloads its signatures' },
};
