import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { InstanceContext } from '../config/index.ts';
import type { Role } from '../spec/index.ts';

/** Runtime dirs live under /run with a short per-state-dir prefix: unix socket paths are limited to 107 bytes. */
export const RUN_ROOT = '/run/mailfleet';

export function runPrefix(stateDir: string): string {
  return join(RUN_ROOT, createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8));
}

/** Where an instance keeps its config, data and sockets; the same for every incarnation of that name. */
export function instanceContext(stateDir: string, role: Role, name: string, listen: string): InstanceContext {
  const root = resolve(stateDir);
  return {
    role,
    name,
    listen,
    configDir: join(root, 'instances', name, 'config'),
    dataDir: join(root, 'data', name),
    runDir: join(runPrefix(root), name),
    mailDir: join(root, 'data', 'mail-storage'),
  };
}

export function peersFile(stateDir: string): string {
  return join(resolve(stateDir), 'peers.json');
}
