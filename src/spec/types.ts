import type { AuthRules, PolicyRules } from '../policy/document.ts';
import type { MtaSpec } from './mta-spec.ts';

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
  ldap: { baseDn: string; adminPassword?: string; readerPassword?: string; authPassword?: string };
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

/**
 * Mailbox quota. Quota is known on the user's backend only; a message for a full mailbox that an `mta` accepted
 * would be refused at delivery and bounced to its envelope sender, forged for most spam (backscatter).
 */
export interface QuotaSpec {
  /**
   * Ask the recipient's backend at RCPT time whether the message fits, and refuse it there (`552 5.2.2`) when it does
   * not: the `mta` asks the quota relay of a `proxy` (a Postfix policy service), which asks the director for the
   * user's backend and that backend's Dovecot quota-status. Anything failing on the way lets the mail in (as without
   * the check). Default true.
   */
  checkAtRcpt: boolean;
}

/**
 * Mail filtering (`as`, `av`): every message an `mta` or `msa` receives is scanned by rspamd before it is
 * accepted (a Postfix milter), SPF, DKIM, DMARC and ARC are checked inbound (results in `Authentication-Results`),
 * authenticated mail is DKIM-signed for its sender's domain, and clamd looks for viruses when `av` runs.
 */
export interface FilterSpec {
  /**
   * What Postfix does when rspamd cannot be asked (down, slow, broken): `open` accepts the mail unscanned
   * (counted, and alerted on), `closed` answers 4xx so the sender retries later. Default `open`.
   */
  failure: 'open' | 'closed';
  /**
   * Score thresholds of rspamd's actions: refused at end of DATA (5xx) from `reject` (default 15), delivered with
   * an `X-Spam: Yes` header from `addHeader` (default 6), greylisted (4xx on first sight) from `greylist`
   * (default 4). Each below the next. A virus, or a DMARC p=reject failure when `enforceDmarc`, is refused
   * whatever its score.
   */
  actions: { reject: number; addHeader: number; greylist: number };
  /**
   * Greylisting of mail scoring at least `actions.greylist` (state in Redis, shared by every `as`): the first
   * attempt of a (client network, sender, recipients, body) is answered 4xx, a retry after `delaySeconds` (default
   * 300) is let through, and the triplet is remembered for `expireSeconds` (default 86400). `enabled` default true.
   * Loopback and private clients are greylisted too (the single host's clients are all on loopback); authenticated
   * ones never.
   */
  greylisting: { enabled: boolean; delaySeconds: number; expireSeconds: number };
  /** Refuse mail failing DMARC under its domain's `p=reject`, tag it under `p=quarantine`. Default true; false only scores it. */
  enforceDmarc: boolean;
  /**
   * The DNS resolvers rspamd asks (SPF, DKIM, DMARC, blocklists), IP `address` or `address:port`. Default none: the
   * host's or pod's resolv.conf. DNS blocklists refuse queries that come through large public resolvers.
   */
  nameservers: string[];
  /**
   * Public reputation data: DNS blocklists, rspamd.com's fuzzy hashes and the maps rspamd downloads from
   * maps.rspamd.com. Default true; turn it off where rspamd has no way to the Internet.
   */
  publicLists: boolean;
  /**
   * rspamd's test patterns: GTUBE variants that force add header, rewrite subject or no action (the plain
   * GTUBE always rejects). Tests only. Default false.
   */
  testPatterns: boolean;
  /** rspamd scanning processes per `as` instance (its milter worker's count); about one per core. Default 2. */
  processes: number;
  /**
   * Password of rspamd's controller: reading statistics and metrics, learning spam and ham (the mailbox backends
   * send what users move into and out of Junk). No default: generated like the other platform secrets.
   */
  controllerPassword?: string;
  antivirus: {
    /**
     * Where clamd's signatures come from, required while `av` runs (no default: a clamd without signatures
     * never starts). `mirror`: one updater per platform (freshclam) downloads them from this ClamAV mirror, e.g.
     * `https://database.clamav.net` or a private one, `checksPerDay` times a day (default 12); in Kubernetes a
     * Deployment `freshclam` (one replica, never two writers) fills the ReadWriteMany volume
     * `<platform>-clamav-signatures` that every `av` pod mounts read-only. `directory`: a directory you keep
     * filled yourself, which clamd reads and checks for changes: single host only (`mailfleet render` refuses it,
     * since a pod has no host directory; serve your signatures as a private mirror instead).
     */
    signatures?: { mirror?: string; directory?: string; checksPerDay: number };
  };
}

/**
 * The flow-control policy server: `mta` and `msa` ask it at each stage one of its rules counts at, it counts in
 * Redis (`kvs`), shared by every instance, and answers over the limit with the rule's action. The rules document is
 * the one `mailfleet policy --rules FILE` reads (`defaultAction`, `exempt`, `rules`), embedded here.
 */
export interface PolicySpec extends PolicyRules {
  /** Run it (and have `mta` and `msa` ask it). Default true; it runs only with an `mta` or an `msa`, and needs `kvs`. */
  enabled: boolean;
  /** Instances in Kubernetes (a Deployment). Default 2. The single host runs one while it is above 0. */
  replicas: number;
  /** Time from a complete request to its reply at most; past it, `defaultAction`. 5 to 10000; default 100. */
  deadlineMs: number;
  auth: AuthPolicySpec;
}

/**
 * Brute-force protection of logins (IMAP, POP3, and SMTP AUTH, which the msa checks through the proxies' Dovecot
 * auth): every proxy asks the policy server before a login and reports its outcome after (Dovecot's
 * `auth_policy_server_url`); failures are counted in Redis, shared by every proxy and policy instance, per client
 * address and per account, and a client over a limit is refused or delayed (`rules`, see AuthRules). While Redis
 * cannot answer within `deadlineMs` logins are allowed (counted in `mailfleet_policy_auth_fail_open_total`), and
 * Dovecot allows a login it could not ask about.
 */
export interface AuthPolicySpec extends AuthRules {
  /** Ask the policy server about logins. Default true; it takes effect while `spec.policy.enabled` and a proxy runs. */
  enabled: boolean;
  /**
   * The credential the proxies send with every request (`Authorization: Bearer`). No default: generated like the
   * other platform secrets. 16 to 256 letters, digits or `._~+/=-`.
   */
  apiKey?: string;
  /**
   * The nonce every proxy mixes into the hash of a tried password (`auth_policy_hash_nonce`), so the policy server
   * sees a truncated, salted hash and never a password. No default: generated; the same for every proxy.
   */
  hashNonce?: string;
}

/**
 * The prober: every interval it submits a tagged message through an `msa` (authenticated, implicit TLS) and
 * one through an `mta` (STARTTLS), waits for each over IMAP and over POP3 through a `proxy`, fetches and
 * deletes it, and exports success, per-stage latency and the certificates it saw as metrics.
 */
export interface ProbeSpec {
  /**
   * Run it: a `probe` instance on the single host, a Deployment `probe` in Kubernetes. Default true; it runs
   * only where it has a path to probe (a `proxy`, and an `msa` or an `mta`).
   */
  enabled: boolean;
  /** Seconds from the start of one cycle to the start of the next. Default 60. */
  intervalSeconds: number;
  /** Deadline of each stage of a cycle (connect, SMTP transaction, delivery wait, fetch), in seconds. Default 30. */
  timeoutSeconds: number;
  /** The account probe messages go to, created by the platform like any other. Default `probe@<first of spec.domains>`. */
  address: string;
  /** The account's password. No default: generated like the platform secrets (see secrets.ts). */
  password?: string;
  /**
   * Kubernetes: the CA certificates the prober verifies the servers' certificates with, one key of a Secret
   * (e.g. cert-manager's `ca.crt`) or a ConfigMap in the platform's namespace. Absent: the image's system
   * store. The single host trusts its local CA (`STATE/tls/ca.crt`) when it has one, else the system store.
   */
  caBundle?: { secret?: string; configMap?: string; key: string };
}

export interface AlertingSpec {
  /**
   * Every alert rule's `for:` (how long its condition must hold before it fires) is multiplied by this, then
   * rounded to whole seconds, at least 1 s. Above 0, at most 1; default 1. Below 1 only for tests that want an
   * alert to fire within seconds; rate windows and thresholds keep their values.
   */
  forScale: number;
  /** Seconds between two evaluations of the rules (each rule group's `interval`, vmalert's `-evaluationInterval`). 1 to 600; default 30. */
  evaluationSeconds: number;
  /**
   * The key VictoriaMetrics' and vmalert's admin endpoints ask for (`?authKey=`): deleting series, snapshots,
   * merges, flushes, cache resets, config reloads, `/flags`, `/debug/pprof`. Queries, writes and `/metrics` need
   * none. No default: generated like the LDAP passwords.
   */
  adminKey?: string;
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

/** One server certificate: the names on it, and where it comes from when not issued by the platform. */
export interface TlsCertificateSpec {
  /** Our name for it: the directory `tls/certs/<name>` on one host, the Secret `<platform>-tls-<name>` in Kubernetes. */
  name: string;
  /** DNS names clients connect to (the first is the subject); the daemons pick this certificate when a client asks for one by SNI. */
  hosts: string[];
  /** `issuer: files`: PEM certificate chain and private key on the single host. */
  certFile?: string;
  keyFile?: string;
  /** Kubernetes: a `kubernetes.io/tls` Secret you manage; no cert-manager Certificate is rendered for it. */
  existingSecret?: string;
}

export type TlsIssuer = 'local' | 'acme' | 'files';

export interface AcmeSpec {
  /** The ACME directory URL. */
  directory: string;
  /** Account contact; optional. */
  email?: string;
  /** Only `http-01` on the single host (the runtime answers it on `http01Listen`); DNS-01 is cert-manager's, in Kubernetes. */
  challenge: 'http-01';
  /** Where the runtime answers HTTP-01 challenges, `host:port`. Default `0.0.0.0:80`. */
  http01Listen: string;
  /** PEM file of CAs to trust for the ACME directory itself (a private ACME server); empty: the system's. */
  caFile?: string;
}

export interface TlsSpec {
  /**
   * Server certificates of `mta`, `msa` and `proxy`. The first is the default, served to clients that send no
   * SNI name or one no certificate lists. Default: one named `default` for `spec.hostname`.
   */
  certificates: TlsCertificateSpec[];
  /** Where the single host gets its certificates: a local CA it creates once (default), an ACME server, or files. */
  issuer: TlsIssuer;
  acme?: AcmeSpec;
  /** Lifetime of certificates the local CA issues. Default 90. */
  validityDays: number;
  /** A certificate is renewed once this share of its lifetime has passed. Default 0.67. */
  renewAfter: number;
  /** How often the single host checks whether a certificate is due. Default 3600. */
  checkSeconds: number;
  /** Key of issued certificates. Default `ecdsa-p256`. */
  keyType: 'ecdsa-p256' | 'rsa-2048';
  /** Oldest protocol accepted on every listener. Default `TLSv1.2`. */
  minProtocol: 'TLSv1.2' | 'TLSv1.3';
  /** Kubernetes: the cert-manager issuer of rendered Certificates, and a Secret to use instead for the default certificate. */
  kubernetes: { issuerRef?: { name: string; kind: 'Issuer' | 'ClusterIssuer'; group: string }; existingSecret?: string };
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
  /** How metrics are discovered: pod annotations (the rendered VictoriaMetrics scrapes them; default), VMPodScrape (a VictoriaMetrics operator's vmagent) or ServiceMonitor (a Prometheus operator). */
  scrape: 'annotations' | 'VMPodScrape' | 'ServiceMonitor';
  /** Where Alertmanager posts alerts. */
  alertWebhookUrl: string;
  /** Loki's S3-compatible object store; credentials come from the Secret named here (keys access-key-id, secret-access-key). */
  logs: { s3Endpoint: string; bucket: string; region: string; credentialsSecret: string };
  /** node-local-dns listen address on every node. */
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
