/**
 * The spec sections of the platform's services beyond the mail roles: quota at RCPT, filtering, flow control
 * and login checks, the prober, alerting. Part of the spec's types (types.ts re-exports them).
 */
import type { AuthRules, PolicyRules } from '../policy/document.ts';

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
  /**
   * Where Alertmanager sends the watchdog (`MailfleetWatchdog`, an alert that always fires) every 5 minutes: a
   * dead man's switch that raises its own alarm when they stop. No default: without it the watchdog goes nowhere
   * and only shows in Alertmanager's API and UI.
   */
  watchdogWebhookUrl?: string;
}
