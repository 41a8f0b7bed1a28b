import type { AgentRole, FilterRole, PlatformSpec, Role } from '../spec/index.ts';

/** One reachable instance of a role: a pod's DNS name in Kubernetes, a loopback address on the single host. */
export interface Peer {
  name: string;
  /** What configs use to reach it: an IP address or a DNS name. */
  host: string;
}

/**
 * Where the other roles are. Filled from DNS names (Kubernetes) or observed addresses (single host). `policy`:
 * the policy server the `mta` and `msa` ask (its Service in Kubernetes, its instances on the single host);
 * `as`: the rspamd the `mta` and `msa` use as their milter; `av`: the clamd rspamd asks. Each absent or empty
 * while none runs.
 */
export type Peers = Record<Role, Peer[]> & { policy?: Peer[] } & Partial<Record<FilterRole, Peer[]>>;

/** Everything a config generator needs about the instance it renders for. */
export interface InstanceContext {
  role: AgentRole;
  name: string;
  /** The address the daemon listens on (`0.0.0.0` in a pod, a 127.x.y.z on the single host). */
  listen: string;
  /** The address others reach it by, when that is not `listen` (a pod's IP). */
  address?: string;
  /** Directory holding the generated config files. */
  configDir: string;
  /** Persistent per-instance data (a PVC in Kubernetes): queue, LDAP database, Redis data. */
  dataDir: string;
  /** Runtime directory for sockets and pid files (emptied at start). Kept short: unix socket paths are limited. */
  runDir: string;
  /** Mail storage shared by every mailbox backend (an RWX volume in Kubernetes). */
  mailDir: string;
  /** Server certificates, one directory per `spec.tls.certificates[].name` holding `tls.crt` and `tls.key`. */
  tlsDir: string;
  /** `as`: the DKIM keys rspamd signs with (see FilterConfigInput.dkimDir). */
  dkimDir?: string;
  /** `av`: where clamd reads its signatures when `spec.filter.antivirus.signatures.directory` names none (the updater's). */
  signaturesDir?: string;
}

/** An instance of a filter role (`as`, `av`): the same places as any instance; no mail or certificates of its own. */
export interface FilterInstanceContext extends Omit<InstanceContext, 'role'> {
  role: FilterRole;
}

/** What the filter generators need: the spec, the instance, where the other roles are. */
export interface FilterConfigInput {
  spec: PlatformSpec;
  instance: FilterInstanceContext;
  peers: Peers;
  /**
   * The DKIM signing directory (src/dkim): `<domain>.<selector>.key` files and `selectors.map` naming each domain's
   * active selector (the `<platform>-dkim` Secret's mount in a pod, `STATE/dkim/signing` on the single host).
   */
  dkimDir: string;
  /** Where clamd reads its signatures (an `av` instance); the updater writes there. */
  signaturesDir?: string;
}

export interface ConfigInput {
  spec: PlatformSpec;
  instance: InstanceContext;
  peers: Peers;
  /**
   * Where mail for foreign domains goes: the outbound pool's Service (Kubernetes). Absent on the single
   * host, which runs no outbound pool: such mail is held in the queue.
   */
  relay?: { mailout: string; fallback?: string };
  /**
   * Where an `mta` or `msa` delivers mail for the served domains over LMTP: one name whose A records are the proxies
   * that are ready (Kubernetes: the `proxy-lmtp` Service). Absent on the single host, where no name holds the
   * proxies' addresses: each instance names them itself (see postfix-lmtp.ts).
   */
  lmtpHost?: string;
  /**
   * Where an `msa` has SMTP AUTH checked (Dovecot auth): one name that reaches a ready proxy (Kubernetes: the ClusterIP
   * Service `proxy-auth`). Absent on the single host, where each msa names the proxy its ordinal picks (see
   * postfix-sasl.ts).
   */
  authHost?: string;
  /**
   * Where an `mta` asks whether a recipient's mailbox has room (the proxies' quota relay, `spec.quota.checkAtRcpt`): one
   * name that reaches a ready proxy (Kubernetes: the ClusterIP Service `proxy-quota`). Absent on the single host, where
   * each mta names the proxy its ordinal picks (see postfix-quota.ts).
   */
  quotaHost?: string;
}

/** File name (relative to the config dir) → contents. */
export type ConfigFiles = Record<string, string>;

/** The LDAP DN Postfix binds as: reads addresses (and the domains), never a password hash. */
export function readerDn(spec: PlatformSpec): string {
  return `cn=mailreader,${spec.ldap.baseDn}`;
}

/** The LDAP DN Dovecot's passdb and userdb bind as: reads accounts, password hashes included, to verify logins. */
export function authDn(spec: PlatformSpec): string {
  return `cn=mailauth,${spec.ldap.baseDn}`;
}

export function ldapUris(peers: Peers, port: number): string {
  return peers.ldap.map((p) => `ldap://${p.host}:${port}`).join(' ');
}

/** The certificate chain and key files of one of `spec.tls.certificates`, as the daemons read them. */
export function certificateFiles(instance: InstanceContext, name: string): { cert: string; key: string } {
  return { cert: `${instance.tlsDir}/${name}/tls.crt`, key: `${instance.tlsDir}/${name}/tls.key` };
}
