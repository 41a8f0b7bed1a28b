import { authPolicyRuns, authRelayRuns, type InstanceRole, type PlatformSpec } from '../../spec/index.ts';
import { backendInDirectors, type BackendInDirectors, type DirectorView } from '../../backends/index.ts';
import type { CertificateStatus } from '../../tls/index.ts';
import type { FiguresReport } from './figures.ts';
import type { MonitoringStatus } from './monitoring.ts';
import type { Pod } from './pod.ts';

function directorEntry(pod: Pod, views: readonly DirectorView[]): Pick<InstanceStatus, 'director'> {
  if (pod.role !== 'mailbox' || !pod.address) return {};
  const director = backendInDirectors(views, pod.address);
  return director ? { director } : {};
}

/** Protocol name → port, per role: what `mailfleet status` shows and clients connect to. */
export function rolePorts(role: InstanceRole, spec: Pick<PlatformSpec, 'ports' | 'policy' | 'roles' | 'quota'>): Record<string, number> {
  const { ports } = spec;
  const http = { http: ports.http };
  // The mtas' quota questions at RCPT: the proxies' relay, and the backends' quota-status it asks.
  const quota: Record<string, number> = spec.quota.checkAtRcpt ? { quotaStatus: ports.quotaStatus } : {};
  switch (role) {
    case 'mta':
      return { smtp: ports.smtp, ...http };
    case 'msa':
      return { submission: ports.submission, submissions: ports.submissions, ...http };
    case 'proxy':
      return {
        imap: ports.imap, imaps: ports.imaps, pop3: ports.pop3, pop3s: ports.pop3s, lmtp: ports.lmtp, doveadm: ports.doveadm, director: ports.director,
        // The msas' SMTP AUTH, in TLS with the relay key.
        ...(authRelayRuns(spec) ? { auth: ports.auth } : {}), ...quota, ...http,
      };
    case 'mailbox':
      return { imap: ports.imap, pop3: ports.pop3, lmtp: ports.lmtp, ...quota, ...http };
    case 'ldap':
      return { ldap: ports.ldap, ...http };
    case 'kvs':
      return { redis: ports.redis, ...http };
    case 'policy':
      return { policy: ports.policy, ...(authPolicyRuns(spec) ? { authPolicy: ports.authPolicy } : {}), ...http };
    case 'as':
      return { milter: ports.milter, rspamd: ports.rspamd, ...http };
    case 'av':
      return { clamd: ports.clamd, ...http };
    case 'probe':
      return http;
  }
}

export interface InstanceStatus {
  role: InstanceRole;
  name: string;
  address: string;
  ports: Record<string, number>;
  state: string;
  ready: boolean;
  restarts: number;
  pid: number | null;
  ageSeconds: number;
  /** For mailbox backends: how the directors list them, asked for this report (absent when none does). */
  director?: BackendInDirectors;
}

/** A director asked for the report: a proxy, and whether it answered. */
export interface DirectorStatus {
  /** The proxy it runs in, when the runtime knows it. */
  name?: string;
  address: string;
  answered: boolean;
  error?: string;
}

export interface StatusReport {
  instances: InstanceStatus[];
  directors: DirectorStatus[];
  /** The server certificates the daemons serve: names, dates, last error; never key material. */
  certificates: CertificateStatus[];
  /** VictoriaMetrics, vmalert and Alertmanager: addresses, pids, restarts. */
  monitoring?: MonitoringStatus;
  /** Live figures per role from VictoriaMetrics, when asked for (`GET /v1/status?figures=1`). */
  figures?: FiguresReport;
}

export function statusReport(
  spec: PlatformSpec, pods: Pod[], views: readonly DirectorView[] = [], certificates: CertificateStatus[] = [],
  observed: Pick<StatusReport, 'monitoring' | 'figures'> = {},
): StatusReport {
  const now = Date.now();
  return {
    certificates,
    ...observed,
    directors: views.map((v) => {
      const proxy = pods.find((p) => p.role === 'proxy' && p.address === v.director.address);
      return { ...(proxy ? { name: proxy.name } : {}), address: v.director.address, answered: v.hosts !== undefined, ...(v.error === undefined ? {} : { error: v.error }) };
    }),
    instances: pods.map((p) => ({
      role: p.role,
      name: p.name,
      address: p.address,
      ports: rolePorts(p.role, spec),
      state: p.state,
      ready: p.ready,
      restarts: p.restarts,
      pid: p.pid ?? null,
      ageSeconds: p.startedAt ? Math.round((now - p.startedAt) / 1000) : 0,
      ...directorEntry(p, views),
    })),
  };
}
