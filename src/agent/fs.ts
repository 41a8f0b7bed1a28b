import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LDAP_CA_FILE, type ConfigFiles } from '../config/index.ts';

/** uid/gid of a system account, from the passwd database. */
export function account(name: string): { uid: number; gid: number } {
  const out = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(out[2]), gid: Number(out[3]) };
}

/**
 * Whether the agent runs as root. Unprivileged (a pod with `runAsUser`, as the kvs pod runs), it owns
 * nothing it did not create: files keep the owner and group the kubelet gave them (fsGroup), and it
 * changes only modes it may change.
 */
export const PRIVILEGED = process.getuid?.() === 0;

export function ensureDir(path: string, mode: number, owner?: string): void {
  mkdirSync(path, { recursive: true });
  try {
    chmodSync(path, mode);
  } catch (err) {
    // A volume's mount point belongs to root (group fsGroup) when the agent is not root: leave its mode.
    if (PRIVILEGED || (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
  if (owner !== undefined && PRIVILEGED) {
    const { uid, gid } = account(owner);
    chownSync(path, uid, gid);
  }
}

/** A fresh, empty directory: stale sockets and pid files from an earlier run never survive a start. */
export function freshDir(path: string, mode: number): void {
  // Empty it rather than remove it: in a pod the directory is an emptyDir mount point, which cannot be removed.
  ensureDir(path, mode);
  for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
}

/**
 * Config files that hold nothing secret and are read by a daemon's unprivileged processes (the LDAP hop's CA
 * certificate: Dovecot's auth process and Postfix's proxymap read it at their first bind, as their own users).
 */
const PUBLIC_CONFIG_FILES: ReadonlySet<string> = new Set([LDAP_CA_FILE]);

/**
 * Config files may carry secrets (LDAP bind password, doveadm API key): root and `group` may read them; everybody
 * may read the public ones. Unprivileged, the agent's own user owns them (the daemon runs as that user too).
 */
export function writeConfigFiles(dir: string, files: ConfigFiles, group?: string): void {
  ensureDir(dir, 0o755);
  const gid = group === undefined || !PRIVILEGED ? 0 : account(group).gid;
  for (const [name, body] of Object.entries(files)) {
    const path = join(dir, name);
    const mode = PUBLIC_CONFIG_FILES.has(name) ? 0o644 : 0o640;
    writeFileSync(path, body, { mode });
    chmodSync(path, mode);
    if (PRIVILEGED) chownSync(path, 0, gid);
  }
}

export function chownTree(path: string, owner: string): void {
  execFileSync('chown', ['-R', `${owner}:${owner}`, path]);
}
