import type { PlatformSpec, Ports, Role } from '../../spec/index.ts';
import type { DirectorHost } from '../../backends/index.ts';
import type { Pod } from './pod.ts';

function directorEntry(pod: Pod, hosts: DirectorHost[]): Pick<InstanceStatus, 'director'> {
  if (pod.role !== 'mailbox') return {};
  const h = hosts.find((x) => x.address === pod.address);
  if (!h) return {};
  return { director: { state: h.vhosts === 0 ? 'draining' : h.up ? 'up' : 'down', vhosts: h.vhosts, users: h.users } };
}

/** Protocol name → port, per role: what `mailfleet status` shows and clients connect to. */
export function rolePorts(role: Role, ports: Ports): Record<string, number> {
  const http = { http: ports.http };
  switch (role) {
    case 'mta':
      return { smtp: ports.smtp, ...http };
    case 'msa':
      return { submission: ports.submission, ...http };
    case 'proxy':
      return { imap: ports.imap, pop3: ports.pop3, lmtp: ports.lmtp, doveadm: ports.doveadm, director: ports.director, auth: ports.auth, ...http };
    case 'mailbox':
      return { imap: ports.imap, pop3: ports.pop3, lmtp: ports.lmtp, ...http };
    case 'ldap':
      return { ldap: ports.ldap, ...http };
    case 'kvs':
      return { redis: ports.redis, ...http };
  }
}

export interface InstanceStatus {
  role: Role;
  name: string;
  address: string;
  ports: Record<string, number>;
  state: string;
  ready: boolean;
  restarts: number;
  pid: number | null;
  ageSeconds: number;
  /** For mailbox backends: their entry in the director (absent when the director does not list them). */
  director?: { state: 'up' | 'down' | 'draining'; vhosts: number; users: number };
}

export interface StatusReport {
  instances: InstanceStatus[];
}

export function statusReport(spec: PlatformSpec, pods: Pod[], directorHosts: DirectorHost[] = []): StatusReport {
  const now = Date.now();
  return {
    instances: pods.map((p) => ({
      role: p.role,
      name: p.name,
      address: p.address,
      ports: rolePorts(p.role, spec.ports),
      state: p.state,
      ready: p.ready,
      restarts: p.restarts,
      pid: p.pid ?? null,
      ageSeconds: p.startedAt ? Math.round((now - p.startedAt) / 1000) : 0,
      ...directorEntry(p, directorHosts),
    })),
  };
}
