import type { InstanceContext } from '../config/index.ts';
import { redactSpec } from '../config/index.ts';
import type { PlatformSpec } from '../spec/index.ts';
import { agentSocket } from './paths.ts';

/** Where an agent read its inputs from: a spec file and generators (single host), or a pod's mounts. */
export type AgentOrigin =
  | { mode: 'host'; specFile: string }
  | { mode: 'pod'; specFile: string; configFrom: string; secretsDir: string };

/**
 * The one log line of what an agent runs with. Secrets never appear: the spec is shown redacted, each
 * secret as the placeholder naming its key.
 */
export function effectiveSettings(opts: {
  origin: AgentOrigin;
  spec: PlatformSpec;
  instance: InstanceContext;
  peersFile: string;
  logFormat: string;
  healthHost: string;
  healthPort: number;
}): Record<string, unknown> {
  const { instance } = opts;
  return {
    ...opts.origin,
    peersFile: opts.peersFile,
    listen: instance.listen,
    health: `${opts.healthHost}:${opts.healthPort}`,
    control: agentSocket(instance.runDir),
    configDir: instance.configDir,
    dataDir: instance.dataDir,
    runDir: instance.runDir,
    mailDir: instance.mailDir,
    logFormat: opts.logFormat,
    spec: redactSpec(opts.spec).spec,
  };
}
