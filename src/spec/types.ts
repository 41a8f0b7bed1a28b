import type { MtaSpec } from './mta-spec.ts';
import type { AlertingSpec, FilterSpec, PolicySpec, ProbeSpec, QuotaSpec } from './service-types.ts';
import type { TlsSpec } from './tls-types.ts';

export type { AlertingSpec, AuthPolicySpec, FilterSpec, PolicySpec, ProbeSpec, QuotaSpec } from './service-types.ts';
export type { AcmeSpec, TlsCertificateSpec, TlsIssuer, TlsSpec } from './tls-types.ts';

/** The roles the platform knows, in start order (dependencies first). */
export const ROLES = ['ldap', 'kvs', 'mailbox', 'proxy', 'mta', 'msa'] as const;
export type Role = (typeof ROLES)[number];

/**
 * The filter roles: `as` (rspamd, the milter of every `mta` and `msa`) and `av` (clamd, which rspamd asks).
 * Daemons like the roles above, stateless (Deployments in Kubernetes); their settings are `spec.filter`.
 */
export const FILTER_ROLES = ['as', 'av'] as const;
export type FilterRole = (typeof FILTER_ROLES)[number];
/** The roles whose instances are a daemon under the agent (the container entrypoint; a single-host instance). */
export type AgentRole = Role | FilterRole;

/**
 * Roles whose instances run mailfleet itself rather than a daemon under the agent: the single-host runtime
 * starts them as it starts the others, Kubernetes runs them as Deployments (see `instanceReplicas`).
 */
export const PROCESS_ROLES = ['policy', 'probe'] as const;
export type ProcessRole = (typeof PROCESS_ROLES)[number];
/**
 * Every role the single-host runtime runs instances of, in start order: the policy server after kvs, where it
 * counts, and before the mail roles that ask it; clamd before rspamd, which asks it, and rspamd (its state in kvs)
 * before the mail roles whose milter it is; the prober last, once there is something to probe.
 */
export const INSTANCE_ROLES = ['ldap', 'kvs', 'policy', 'av', 'as', 'mailbox', 'proxy', 'mta', 'msa', 'probe'] as const satisfies readonly (AgentRole | ProcessRole)[];
export type InstanceRole = AgentRole | ProcessRole;

/**
 * Why `name` (from a command line or a control request) is not one of `roles`, naming them; undefined when it is.
 * `scale` and `restart` check it before asking the runtime, which checks it again for any other client.
 */
export function roleRefusal(name: unknown, roles: readonly string[]): string | undefined {
  return typeof name === 'string' && roles.includes(name) ? undefined : `unknown role ${String(name)}; roles: ${roles.join(', ')}`;
}

export interface RoleSpec {
  /** Number of instances. */
  replicas: number;
}

export interface Ports {
  smtp: number;
  submission: number;
  /** Submission with implicit TLS (RFC 8314) on every `msa`. */
  submissions: number;
  imap: number;
  /** IMAP with implicit TLS on every `proxy`. */
  imaps: number;
  pop3: number;
  /** POP3 with implicit TLS on every `proxy`. */
  pop3s: number;
  lmtp: number;
  ldap: number;
  redis: number;
  /** doveadm HTTP API on every `proxy` instance. */
  doveadm: number;
  /** director ring port on `proxy` instances. */
  director: number;
  /** Dovecot auth for Postfix SASL on `proxy` instances. */
  auth: number;
  /** agent health and metrics (`/livez`, `/readyz`, `/metrics`). */
  http: number;
  /**
   * The health-check smtpd of every `mta` and `msa`: its own two processes, on the instance's own address (in a
   * pod, its loopback), so that clients holding every smtpd of the public ports do not make the agent see a hung
   * Postfix. Default 10026.
   */
  smtpHealth: number;
  /** The same with TLS from the first byte, on every `msa` (its check of the TLS it serves on 465). Default 10466. */
  submissionsHealth: number;
  /** The policy server (Postfix policy delegation) on every `policy` instance. */
  policy: number;
  /** Dovecot's auth policy (HTTP) on every `policy` instance, which the proxies ask about every login. Default 10041. */
  authPolicy: number;
  /** rspamd's milter (its proxy worker, scanning itself) on every `as` instance. Default 11332. */
  milter: number;
  /** rspamd's controller on every `as` instance: `/ping`, `/metrics`, learning (password). Default 11334. */
  rspamd: number;
  /** clamd on every `av` instance. Default 3310. */
  clamd: number;
  /**
   * Mailbox quota at RCPT time (`spec.quota.checkAtRcpt`): Dovecot's quota-status service on every `mailbox`, and the
   * quota relay in every `proxy`'s agent, which the `mta` asks and which asks the user's backend. Default 12340.
   */
  quotaStatus: number;
}

export interface Account {
  address: string;
  password: string;
  /** Mailbox quota, e.g. `1G`, `500M`; `0` means no limit. */
  quota: string;
}

export interface GeneratedAccounts {
  /** How many accounts to create: `<prefix><n>@<domain>` for n = 1..count. */
  count: number;
  prefix: string;
  domain: string;
  password: string;
  quota: string;
}

export interface PlatformSpec {
  /** Mail domains served by the platform. */
  domains: string[];
  /** Hostname announced in SMTP banners and HELO. */
  hostname: string;
  /** Drain budget of every instance on stop (terminationGracePeriodSeconds is rendered larger). Default 30. */
  drainSeconds: number;
  /** A daemon whose readiness has failed this long while its process lives is hung: /livez fails. Default 30. */
  hungSeconds: number;
  /**
   * Postfix's `message_size_limit` on every MTA, in bytes. The proxy's LMTP router takes at least as much, so
   * a message an MTA accepted is never refused for size further in. Default 52428800 (50 MiB).
   */
  messageSizeLimit: number;
  /**
   * Instances per role. `as` (rspamd): default 2 in Kubernetes, one on the single host while above 0; 0 turns
   * filtering off. `av` (clamd): default 0, as it needs `spec.filter.antivirus.signatures`.
   */
  roles: Record<Role | FilterRole, RoleSpec>;
  ports: Ports;
  /**
   * LDAP tree root and the passwords of its three binds: the admin (the accounts CLI), the reader Postfix
   * binds with (addresses, never password hashes) and the auth account Dovecot binds with (which reads
   * the hashes it verifies). No default: left out, they are generated (single host: once, in the state
   * directory; Kubernetes: in the platform Secret). See secrets.ts.
   */
  ldap: { baseDn: string; adminPassword?: string; readerPassword?: string; authPassword?: string; tlsKey?: string };
  /**
   * The password of the platform's Redis (`kvs`, its `requirepass`), which the policy server and the kvs
   * readiness check authenticate with. No default: generated like the LDAP passwords. At least 16 characters,
   * without whitespace, quotes or backslashes (it is one token of redis.conf).
   */
  redis: { password?: string };
  /**
   * Director ring: backend weight, the doveadm API key (no default: generated like the LDAP passwords),
   * how often the backend-sync controller re-reads everything (safety net; events drive it), and how long
   * a leaving backend may keep users.
   */
  director: {
    vhostCount: number;
    apiKey?: string;
    /**
     * The password the proxies log in to the backends with, as the master user `mailproxy` on behalf of the
     * client's user (no default: generated like the LDAP passwords). The user's password is verified once,
     * on the proxy, and never crosses the internal hop.
     */
    backendLoginPassword?: string;
    /**
     * The key of the msas' SMTP AUTH hop to the proxies (no default: generated like the other secrets): each msa's
     * agent relays its Postfix's Dovecot SASL connections to a proxy's agent over TLS keyed with it (TLS-PSK), so
     * the users' passwords never cross the pod network in clear, and nothing without the key reaches Dovecot auth.
     */
    authRelayKey?: string;
    /**
     * The key of the proxies' hop to the mailbox backends (no default: generated like the other secrets). The CA of
     * that hop is derived from it: each backend's agent issues the certificate its Dovecot serves, and the proxies
     * log in (as the backend login, with its password) only after STARTTLS to a backend holding such a certificate
     * for the address the director names.
     */
    backendTlsKey?: string;
    resyncSeconds: number;
    drainTimeoutSeconds: number;
  };
  local: LocalSpec;
  /**
   * Client networks the `mta` and `msa` relay for without authentication (Postfix `mynetworks`, and
   * `permit_mynetworks` in the relay rules only when set). Default none: relaying needs SASL.
   */
  relayNetworks: string[];
  /** Listeners that expect the PROXY protocol from the load balancer (client IP), trusted only from its ranges. */
  loadBalancer: LoadBalancerSpec;
  /** The inbound MX beyond its replicas: its postscreen. */
  mta: MtaSpec;
  /** Outbound relay pools, each with its own egress IP pool (Kubernetes only). */
  outbound: { mailout: OutboundPool; fallback: OutboundPool };
  /** How the alert rules are evaluated (vmalert on the single host and in Kubernetes). */
  alerting: AlertingSpec;
  kubernetes: KubernetesSpec;
  accounts: AccountsSpec;
  tls: TlsSpec;
  probe: ProbeSpec;
  policy: PolicySpec;
  filter: FilterSpec;
  quota: QuotaSpec;
}

/** The single host (`mailfleet up`): where it keeps its state, its addresses, and its metrics and alerting. */
export interface LocalSpec {
  /** State directory (configs, data, logs, the control socket). Default `/var/lib/mailfleet`. */
  stateDir: string;
  /** The /16 of 127.0.0.0/8 instances get their addresses from. Default `127.77.0.0/16`. */
  addressPool: string;
  /**
   * Where Alertmanager posts alert notifications (http or https). No default: without it Alertmanager is not
   * started and vmalert evaluates the rules without sending them anywhere.
   */
  alertWebhookUrl?: string;
  /** Seconds between two scrapes of every instance by VictoriaMetrics. Default 30. */
  scrapeIntervalSeconds: number;
  /**
   * Alertmanager's grouping timings: the wait for more alerts of a new group before its first notification
   * (default 30), the wait before notifying changes of a group already notified (default 300), and when a
   * notification still firing is repeated (default 14400).
   */
  alertTimings: { groupWaitSeconds: number; groupIntervalSeconds: number; repeatIntervalSeconds: number };
}

export interface AccountsSpec {
  /** Shortest mailbox password accepted, from `accounts add` and in the spec's demo accounts. Default 12. */
  passwordMinLength: number;
  /**
   * How mailbox passwords are stored: Argon2id, verified by Dovecot. Default 19456 KiB and 2 passes
   * (OWASP's first recommendation, about 25 ms per hash on one core here); raise both for a slower
   * attacker, at the price of every login (verified on the proxy and again on the backend) and seeding.
   */
  passwordHash: { scheme: 'ARGON2ID'; memoryKiB: number; passes: number };
  seed: Account[];
  generate: GeneratedAccounts[];
}

export interface LoadBalancerSpec {
  /** CIDRs the load balancer sends from; empty: no PROXY-protocol listeners. */
  sourceRanges: string[];
  /** PROXY-protocol listener ports by protocol. */
  ports: { smtp: number; submission: number; submissions: number; imap: number; imaps: number; pop3: number; pop3s: number };
}

export interface OutboundPool {
  replicas: number;
  /** The Calico IP pool the pods take their addresses from (NAT off: egress NAT happens outside the node). */
  ipv4Cidr: string;
  /** Optional IPv6 pool. */
  ipv6Cidr?: string;
}

export interface ContainerResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export type KubeWorkload = Role | 'as' | 'av' | 'freshclam' | 'probe' | 'policy' | 'mailout' | 'fallback' | 'controller' | 'victoriametrics' | 'vmalert' | 'alertmanager' | 'loki' | 'promtail' | 'nodelocaldns' | 'unbound';

export interface KubernetesSpec {
  /** Namespace every namespaced object goes to. Default `mailfleet`. */
  namespace: string;
  /** Cluster DNS domain used in peer names. Default `cluster.local`. */
  clusterDomain: string;
  /** Images: `<registry>/<image>:<tag>`; mailfleet-postfix, mailfleet-dovecot, mailfleet-openldap, mailfleet-redis, mailfleet-rspamd, mailfleet. */
  images: { registry: string; tag: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never' };
  /** Node label naming the rack for topology spread. Default `topology.kubernetes.io/zone`. */
  rackLabel: string;
  /**
   * StorageClass per stateful role (mailbox is ReadWriteMany). `signatures`: the ReadWriteMany volume the
   * freshclam updater fills and every `av` pod reads, default `mail-storage-rwx`.
   */
  storageClasses: Record<'mta' | 'msa' | 'mailout' | 'fallback' | 'mailbox' | 'ldap' | 'kvs' | 'metrics' | 'logs' | 'signatures', string>;
  /** Volume sizes. `signatures`: clamd's database, default 2Gi (the official one is ~300 MB, plus freshclam's temporary copies). */
  storageSizes: Record<'queue' | 'mail' | 'ldap' | 'kvs' | 'metrics' | 'logs' | 'signatures', string>;
  /** Requests and limits per workload; defaults are sized for a small node. */
  resources: Record<KubeWorkload, ContainerResources>;
  /** Default-deny NetworkPolicies with per-role allowlists. Default true. */
  networkPolicies: boolean;
  /**
   * Pod sysctls kubelet allows only when told to (`--allowed-unsafe-sysctls`): the listen backlog
   * (`net.core.somaxconn`), TIME_WAIT reuse for outgoing connections (`net.ipv4.tcp_tw_reuse`) and the queue of
   * Postfix's log socket (`net.unix.max_dgram_qlen`, 512 where a pod has 10). Default true; false leaves them out
   * for a kubelet one cannot configure (the safe ones, the port range and its reserved ports, stay).
   */
  unsafeSysctls: boolean;
  /**
   * Whether `mta` and `mailbox` pods may share a node: `preferred` (default) keeps them apart where the nodes
   * allow; `required` never puts them together, and leaves an `mta` Pending on a cluster with no node free of
   * mailboxes (as many nodes as mailbox replicas, or fewer).
   */
  mtaMailboxSeparation: 'preferred' | 'required';
  /**
   * The cluster's exporters the Kubernetes and host alert packs read, for the rendered VictoriaMetrics to scrape
   * (`scrape: annotations`): `kubeStateMetrics`, its Service as `host:port` (only the platform namespace's series
   * are kept); `nodeExporter`, a headless Service as `host:port`, every address of which is a node's exporter.
   * Empty (default): not scraped, and `MailfleetAlertSourceMissing` says the pack is blind.
   */
  clusterMetrics: { kubeStateMetrics: string; nodeExporter: string };
  /** How metrics are discovered: pod annotations (the rendered VictoriaMetrics scrapes them; default), VMPodScrape (a VictoriaMetrics operator's vmagent) or ServiceMonitor (a Prometheus operator). */
  scrape: 'annotations' | 'VMPodScrape' | 'ServiceMonitor';
  /** Where Alertmanager posts alerts. */
  alertWebhookUrl: string;
  /** Loki's S3-compatible object store; credentials come from the Secret named here (keys access-key-id, secret-access-key). */
  logs: { s3Endpoint: string; bucket: string; region: string; credentialsSecret: string };
  /**
   * Render a node-local-dns DaemonSet (in kube-system, host network, on every node) and its unbound upstream with
   * raised TCP limits for mail's MX/A/TLSA/DNSBL lookups. Default false: it is the cluster's add-on, one per
   * cluster (it binds `nodeLocalDnsAddress` on every node), and serves pods only once kubelet's `--cluster-dns`
   * points at it. Turn it on for a cluster that runs none.
   */
  nodeLocalDns: boolean;
  /** node-local-dns listen address on every node (also allowed as a DNS server by the NetworkPolicies). */
  nodeLocalDnsAddress: string;
  /** Pod network ranges: the only clients the outbound relay pools relay for, and unbound answers. */
  podNetworks: string[];
  /** Node network ranges: node-local-dns (host network) asks unbound from there. */
  nodeNetworks: string[];
  /** Images of the third-party parts (monitoring, logs, node-local-dns). */
  thirdPartyImages: Record<'victoriametrics' | 'vmalert' | 'alertmanager' | 'loki' | 'promtail' | 'nodelocaldns', string>;
  /**
   * Name of a Secret with the platform's keys that is not rendered: one you create (needed by `render`
   * when the spec gives no secrets), or the one the operator creates with random values when absent.
   * Empty: the Secret is `<platform>-secrets`, rendered from the spec's secrets (all must be given) or,
   * under the operator, created by it.
   */
  existingSecret: string;
}

export interface MailPlatform {
  apiVersion: string;
  kind: 'MailPlatform';
  metadata: { name: string };
  spec: PlatformSpec;
}
