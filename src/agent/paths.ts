import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { InstanceContext } from '../config/index.ts';
import { dkimPaths } from '../dkim/index.ts';
import type { AgentRole } from '../spec/index.ts';

/** Runtime dirs live under /run with a short per-state-dir prefix: unix socket paths are limited to 107 bytes. */
export const RUN_ROOT = '/run/mailfleet';

export function runPrefix(stateDir: string): string {
  return join(RUN_ROOT, createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8));
}

/** The run dir of a single-host instance: its sockets (the agent's control socket among them) and pid files. */
export function instanceRunDir(stateDir: string, name: string): string {
  return join(runPrefix(resolve(stateDir)), name);
}

/**
 * Where an instance keeps its config, data and sockets; the same for every incarnation of that name. The filter
 * roles also get the DKIM signing directory `mailfleet dkim` keeps (`as`, src/dkim) and the signature directory the
 * updater fills (`av`).
 */
export function instanceContext(stateDir: string, role: AgentRole, name: string, listen: string): InstanceContext {
  const root = resolve(stateDir);
  return {
    role,
    name,
    listen,
    configDir: join(root, 'instances', name, 'config'),
    dataDir: join(root, 'data', name),
    runDir: instanceRunDir(root, name),
    mailDir: join(root, 'data', 'mail-storage'),
    tlsDir: tlsCertsDir(root),
    ...(role === 'as' ? { dkimDir: dkimPaths(root).signing } : {}),
    ...(role === 'av' ? { signaturesDir: join(root, 'data', 'clamav') } : {}),
  };
}


/** The single host's server certificates: `<state>/tls/certs/<name>/{tls.crt,tls.key}`, root's only. */
export function tlsCertsDir(stateDir: string): string {
  return join(resolve(stateDir), 'tls', 'certs');
}

/** The agent's control socket (see control.ts), in the instance's run dir. */
export const AGENT_SOCKET_NAME = 'agent.sock';

export function agentSocket(runDir: string): string {
  return join(runDir, AGENT_SOCKET_NAME);
}

export function peersFile(stateDir: string): string {
  return join(resolve(stateDir), 'peers.json');
}

/**
 * Where things are inside a Kubernetes pod. The renderer mounts volumes at these paths and the agent
 * (`mailfleet agent --pod`) reads them; both import them from here.
 */
export const POD_PATHS = {
  /** ConfigMap `<platform>-<role>-config`: generated files, placeholders not yet resolved. */
  configMap: '/etc/mailfleet/config',
  /** ConfigMap `<platform>-spec`: the spec with secrets as placeholders, and peers by DNS name. */
  specDir: '/etc/mailfleet/spec',
  specFile: '/etc/mailfleet/spec/mailfleet.yaml',
  peersFile: '/etc/mailfleet/spec/peers.json',
  /** The platform Secret, one file per key. */
  secrets: '/etc/mailfleet/secrets',
  /** emptyDir: the installed config, placeholders resolved. */
  config: '/run/mailfleet/config',
  /** emptyDir: sockets and pid files. */
  run: '/run/mailfleet/run',
  /** The agent's control socket in the run dir: where the preStop hook asks for a drain. */
  agentSocket: '/run/mailfleet/run/agent.sock',
  /** The pod's PVC (queue, LDAP database, Redis data). */
  data: '/var/lib/mailfleet',
  /** The ReadWriteMany volume every mailbox backend shares. */
  mail: '/srv/mail',
  /** One Secret volume per certificate, `<tls>/<name>/tls.crt|tls.key` (a cert-manager or kubernetes.io/tls Secret). */
  tls: '/etc/mailfleet/tls',
  /** Secret `<platform>-dkim`: rspamd's DKIM signing keys and selector map (src/dkim). */
  dkim: '/etc/mailfleet/dkim',
  /** `av`: the volume the platform's signature updater fills, read-only. */
  signatures: '/var/lib/clamav',
} as const;

/** The instance context of a pod: it listens on every address of its own network namespace. */
export function podInstanceContext(role: AgentRole, name: string): InstanceContext {
  return {
    role,
    name,
    listen: '0.0.0.0',
    configDir: POD_PATHS.config,
    dataDir: POD_PATHS.data,
    runDir: POD_PATHS.run,
    mailDir: POD_PATHS.mail,
    tlsDir: POD_PATHS.tls,
    ...(role === 'as' ? { dkimDir: POD_PATHS.dkim } : {}),
    ...(role === 'av' ? { signaturesDir: POD_PATHS.signatures } : {}),
  };
}
