/**
 * Pod-level practices shared by every workload: DNS, sysctls, spreading, probes on the agent's
 * endpoints, graceful stop, security context.
 */
import { POD_PATHS, STOP_TIMEOUT_MS } from '../../agent/index.ts';
import { POSTFIX_LOG_QUEUE_MIN } from '../../config/index.ts';
import { MAILFLEET_DNS_CONFIG } from '../../dns/index.ts';
import type { ContainerResources, PlatformSpec } from '../../spec/index.ts';
import { image, selector, type MailfleetImage, type RenderContext } from './context.ts';

/**
 * Sysctls kubelet refuses unless listed in its `--allowed-unsafe-sysctls` (or `allowedUnsafeSysctls` in its
 * config); `spec.kubernetes.unsafeSysctls: false` leaves them out, for a kubelet one cannot configure.
 */
export const UNSAFE_SYSCTLS = ['net.core.somaxconn', 'net.ipv4.tcp_tw_reuse', 'net.unix.max_dgram_qlen'] as const;
export const UNSAFE_SYSCTLS_ANNOTATION = 'mailfleet.io/kubelet-allowed-unsafe-sysctls';

/**
 * The listen backlog: Linux before 5.4 caps every listener's at 128 (Redis asks 511, slapd 2048, Dovecot and
 * Postfix their process limits); 5.4 and later default to 4096 already.
 */
const BACKLOG = { 'net.core.somaxconn': '4096' };
/**
 * Daemons that open many connections out (Postfix to the proxies and the Internet, the proxy to the backends):
 * a wider ephemeral port range, and TIME_WAIT ports reused for new connections to the same peer. The range
 * starts below the platform's listener ports; those are reserved (`ip_local_reserved_ports`), so an outgoing
 * connection never takes a port a daemon is about to listen on.
 */
const OUTBOUND = { ...BACKLOG, 'net.ipv4.ip_local_port_range': '1024 65000', 'net.ipv4.tcp_tw_reuse': '1' };
/**
 * Every Postfix process logs through the postlog datagram socket to postlogd, which relays to the agent. A pod's
 * network namespace queues 10 datagrams per socket (the kernel's default; systemd raises a host's to 512): with
 * postlogd briefly behind (at a reload it is restarted), every process that logs blocks, the master too, and a
 * master blocked there cannot start the postlogd that would drain it.
 */
const POSTFIX = { ...OUTBOUND, 'net.unix.max_dgram_qlen': String(POSTFIX_LOG_QUEUE_MIN) };

/** Kernel parameters per workload: connection-heavy daemons get backlog and port range; Postfix its log queue. */
export const SYSCTLS: Record<string, Record<string, string>> = {
  mta: POSTFIX,
  msa: POSTFIX,
  mailout: POSTFIX,
  fallback: POSTFIX,
  proxy: OUTBOUND,
  mailbox: BACKLOG,
  ldap: BACKLOG,
  kvs: BACKLOG,
};

/** `a,b,c-d`: ports in kernel list syntax, consecutive ones as a range. */
function portList(ports: readonly number[]): string {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',');
}

/** The platform's listener ports inside `range` (`"low high"`): those an outgoing connection must not take. */
function reservedPorts(ctx: RenderContext, range: string): string {
  const [low, high] = range.split(' ').map(Number) as [number, number];
  const listeners = [...Object.values(ctx.spec.ports) as number[], ...Object.values<number>(ctx.spec.loadBalancer.ports)];
  return portList(listeners.filter((p) => p >= low && p <= high));
}

/** The workload's pod sysctls, sorted by name; the unsafe ones only where the spec allows them. */
export function sysctlsOf(ctx: RenderContext, workload: string): { name: string; value: string }[] {
  const own = { ...(SYSCTLS[workload] ?? {}) };
  const range = own['net.ipv4.ip_local_port_range'];
  if (range !== undefined) {
    const reserved = reservedPorts(ctx, range);
    if (reserved !== '') own['net.ipv4.ip_local_reserved_ports'] = reserved;
  }
  return Object.entries(own)
    .filter(([name]) => ctx.spec.kubernetes.unsafeSysctls || !isUnsafe(name))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

/**
 * What kubelet must allow for the rendered pods to start, for `mailfleet render` to say on stderr; undefined
 * when the spec leaves the unsafe sysctls out.
 */
export function unsafeSysctlsNote(spec: PlatformSpec): string | undefined {
  if (!spec.kubernetes.unsafeSysctls) return undefined;
  const names = [...UNSAFE_SYSCTLS].sort();
  return `spec.kubernetes.unsafeSysctls: the mail pods set ${names.join(', ')}; kubelet refuses such a pod (SysctlForbidden) unless started with --allowed-unsafe-sysctls=${names.join(',')} (allowedUnsafeSysctls in its config); set it to false where the nodes' kubelet cannot be configured`;
}

const isUnsafe = (name: string): boolean => (UNSAFE_SYSCTLS as readonly string[]).includes(name);

/** The names among `sysctls` that kubelet must be told to allow. */
export function unsafeNames(sysctls: readonly { name: string }[]): string[] {
  return sysctls.map((s) => s.name).filter(isUnsafe);
}

/** `ndots:1` on every pod: a mail host name with dots is tried as-is first (2 queries, not 12). */
export function dnsConfig(): { options: { name: string; value?: string }[] } {
  return { options: (MAILFLEET_DNS_CONFIG.options ?? []).map((o) => ({ ...o })) };
}

/**
 * Same role spread over nodes and racks; `avoid` roles kept off this one's nodes: required
 * (`spec.kubernetes.mtaMailboxSeparation: required`, never on one node) or, by default, preferred (apart where the
 * nodes allow; on a cluster of as many nodes as mailboxes, required would leave the mta Pending).
 */
export function placement(ctx: RenderContext, component: string, avoid: readonly string[] = []) {
  const own = { matchLabels: selector(ctx, component) };
  const apart = avoid.map((other) => ({
    labelSelector: { matchLabels: selector(ctx, other) },
    topologyKey: 'kubernetes.io/hostname',
  }));
  const required = ctx.spec.kubernetes.mtaMailboxSeparation === 'required';
  const preferred = [
    { weight: 100, podAffinityTerm: { labelSelector: own, topologyKey: 'kubernetes.io/hostname' } },
    ...(required ? [] : apart.map((podAffinityTerm) => ({ weight: 100, podAffinityTerm }))),
  ];
  return {
    affinity: {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: preferred,
        ...(required && apart.length > 0 ? { requiredDuringSchedulingIgnoredDuringExecution: apart } : {}),
      },
    },
    topologySpreadConstraints: [
      { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: own },
      { maxSkew: 1, topologyKey: ctx.spec.kubernetes.rackLabel, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: own },
    ],
  };
}

/** Longer than the agent's whole stop: drain budget, then the daemon's own stop, then a margin. */
export function gracePeriodSeconds(ctx: RenderContext): number {
  return ctx.spec.drainSeconds + Math.ceil(STOP_TIMEOUT_MS / 1000) + 10;
}

const STARTUP_PERIOD_S = 5;

/**
 * Agent endpoints: liveness = agent alive and daemon running; readiness = the protocol dialogue succeeds.
 * The startup probe allows 5 minutes, plus `extraStartupMs` (ldap: hashing the demo accounts' passwords).
 */
export function agentProbes(extraStartupMs = 0) {
  const get = (path: string) => ({ httpGet: { path, port: 'http' } });
  return {
    startupProbe: { ...get('/readyz'), periodSeconds: STARTUP_PERIOD_S, timeoutSeconds: 3, failureThreshold: 60 + Math.ceil(extraStartupMs / (STARTUP_PERIOD_S * 1000)) },
    livenessProbe: { ...get('/livez'), periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
    readinessProbe: { ...get('/readyz'), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
  };
}

/**
 * preStop: drain through the agent (unready, stop accepting, flush, wait for sessions, leave the director). The
 * hook runs inside the container as the agent's user and asks on the agent's control socket in the run dir,
 * which no one else can reach; the HTTP port serves only probes and metrics.
 */
export function drainHook() {
  return { preStop: { exec: { command: ['mailfleet', 'agent', 'drain', '--socket', POD_PATHS.agentSocket] } } };
}

export function resources(r: ContainerResources) {
  return { requests: { ...r.requests }, limits: { ...r.limits } };
}

/** Daemons that start as root and drop privileges themselves keep only the capabilities for that. */
// SYS_CHROOT: Dovecot's login processes chroot (login_chroot), as Postfix services may.
/** The container runtime's default seccomp profile, which every pod or container of the platform runs under. */
export const RUNTIME_DEFAULT_SECCOMP = { type: 'RuntimeDefault' } as const;

export const ROOT_DAEMON_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'KILL', 'NET_BIND_SERVICE', 'SETGID', 'SETUID', 'SYS_CHROOT'];

export function rootDaemonSecurity() {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ROOT_DAEMON_CAPABILITIES }, seccompProfile: RUNTIME_DEFAULT_SECCOMP };
}

export function nonRootSecurity(readOnlyRoot: boolean) {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: readOnlyRoot, runAsNonRoot: true };
}

export const POD_ENV = [
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
];

/**
 * What every pod of the platform's own starts with: its grace period, cluster DNS with `ndots:1`, no service
 * links in the environment and no API token.
 */
export function podBasics(terminationGracePeriodSeconds: number) {
  return {
    terminationGracePeriodSeconds,
    dnsPolicy: 'ClusterFirst',
    dnsConfig: dnsConfig(),
    enableServiceLinks: false,
    automountServiceAccountToken: false,
  };
}

/** The head of an agent container: `mailfleet agent --pod` (the image's entrypoint) for `role`, told its pod's name and address. */
export function agentContainerHead(ctx: RenderContext, role: string, imageName: MailfleetImage) {
  return {
    name: role,
    image: image(ctx, imageName),
    imagePullPolicy: ctx.spec.kubernetes.images.pullPolicy,
    args: ['--pod', '--role', role, '--name', '$(POD_NAME)', '--address', '$(POD_IP)', '--log-format', 'json'],
    env: POD_ENV,
  };
}
