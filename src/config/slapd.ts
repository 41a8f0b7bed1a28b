import { probeRuns, quotaBytes, requireSecret, type Account, type PlatformSpec } from '../spec/index.ts';
import { authDn, readerDn, type ConfigFiles, type ConfigInput } from './context.ts';
import { ldapServedPath } from './ldap-tls.ts';

/**
 * A small schema for what the standard ones lack: the account's quota.
 * OID arc 1.3.6.1.4.1.99999.77 is a placeholder private arc; an operator with a PEN replaces it.
 */
const MAILFLEET_SCHEMA = `dn: cn=mailfleet,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: mailfleet
olcAttributeTypes: ( 1.3.6.1.4.1.99999.77.1.1 NAME 'mailQuotaBytes'
  DESC 'mailbox quota in bytes, 0 = unlimited'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.99999.77.2.1 NAME 'mailfleetAccount'
  DESC 'a mailbox served by mailfleet' SUP top AUXILIARY
  MUST ( mail $ userPassword ) MAY ( mailQuotaBytes ) )
`;

/**
 * cn=config for one slapd instance, loaded offline with `slapadd -n 0`.
 *
 * The log is slapd's stderr (`-d stats` in the agent: connections, binds, every operation and its result code),
 * which the agent and the container runtime collect. `olcLogLevel` is the *syslog* level, and there is no syslog
 * socket on the single host or in a pod: with `stats` there, glibc tried and failed to reach /dev/log for every
 * line (socket, connect, close, getpid: four wasted system calls per log line). 0 turns only that off.
 *
 * TLS (src/config/ldap-tls.ts): the certificate its agent issues (key and certificate in one file), TLS 1.3 only,
 * and no simple bind below a strength of 128 (`simple_bind=128`): a bind in clear, or over the agent's `ldapi` socket,
 * is refused with `confidentialityRequired`. Only binds: the agent's EXTERNAL over `ldapi` stays possible.
 */
export function slapdConfigLdif(input: ConfigInput, rootPasswordHash: string): string {
  const { spec, instance } = input;
  const base = spec.ldap.baseDn;
  const schemaDir = '/etc/ldap/schema';
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${instance.runDir}/slapd.pid
olcArgsFile: ${instance.runDir}/slapd.args
olcLogLevel: 0
olcTLSCertificateFile: ${ldapServedPath(instance)}
olcTLSCertificateKeyFile: ${ldapServedPath(instance)}
olcTLSProtocolMin: 3.4
olcSecurity: simple_bind=128

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://${schemaDir}/core.ldif
include: file://${schemaDir}/cosine.ldif
include: file://${schemaDir}/inetorgperson.ldif

${MAILFLEET_SCHEMA}
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: ${instance.dataDir}/db
olcDbMaxSize: 1073741824
olcSuffix: ${base}
olcRootDN: cn=admin,${base}
olcRootPW: ${rootPasswordHash}
olcSizeLimit: unlimited
olcDbIndex: objectClass eq
olcDbIndex: mail eq
olcDbIndex: associatedDomain eq
${accessRules(spec).map((rule, i) => `olcAccess: {${i}}${rule}`).join('\n')}
`;
}

/**
 * Who reads what. Accounts' password hashes: only Dovecot's bind (it verifies logins), and users may
 * bind with their own password. The service accounts' hashes: nobody, binding only. Everything else:
 * both service binds; Postfix's (the reader) so sees addresses and domains, and no hash at all. The
 * admin is the root DN, which no rule limits.
 */
export function accessRules(spec: PlatformSpec): string[] {
  const accounts = `ou=accounts,${spec.ldap.baseDn}`;
  return [
    `to dn.subtree="${accounts}" attrs=userPassword by dn.exact="${authDn(spec)}" read by anonymous auth by * none`,
    'to attrs=userPassword by anonymous auth by * none',
    `to * by dn.exact="${readerDn(spec)}" read by dn.exact="${authDn(spec)}" read by * none`,
  ];
}

/** The service accounts Postfix and Dovecot bind as, with their `{SSHA}` password values. */
export interface ServiceAccountHashes {
  reader: string;
  auth: string;
}

function serviceAccountEntries(spec: PlatformSpec, hashes: ServiceAccountHashes): { dn: string; cn: string; userPassword: string }[] {
  return [
    { dn: readerDn(spec), cn: 'mailreader', userPassword: hashes.reader },
    { dn: authDn(spec), cn: 'mailauth', userPassword: hashes.auth },
  ];
}

/**
 * An LDIF for `slapmodify` that makes the service accounts what the platform secrets say now: the
 * password of an existing one is replaced, a missing one (a database seeded before it existed) is added.
 * So a secret the platform generated anew, or rotated, takes effect at slapd's next start.
 */
export function serviceAccountsChangeLdif(spec: PlatformSpec, hashes: ServiceAccountHashes, existing: ReadonlySet<string>): string {
  return serviceAccountEntries(spec, hashes).map((e) => existing.has(e.dn.toLowerCase())
    ? `dn: ${e.dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: ${e.userPassword}\n-\n`
    : `dn: ${e.dn}\nchangetype: add\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: ${e.cn}\nuserPassword: ${e.userPassword}\n`).join('\n');
}

function rdnValue(base: string): string {
  return base.split(',')[0]?.split('=')[1] ?? 'mailfleet';
}

/** The directory tree: base, domains, the service accounts. Loaded offline with `slapadd -n 1`. */
export function ldapTreeLdif(spec: PlatformSpec, hashes: ServiceAccountHashes): string {
  const base = spec.ldap.baseDn;
  const parts = [
    `dn: ${base}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: mailfleet\ndc: ${rdnValue(base)}\n`,
    `dn: ou=domains,${base}\nobjectClass: organizationalUnit\nou: domains\n`,
    `dn: ou=accounts,${base}\nobjectClass: organizationalUnit\nou: accounts\n`,
    ...serviceAccountEntries(spec, hashes).map((e) => `dn: ${e.dn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: ${e.cn}\nuserPassword: ${e.userPassword}\n`),
    ...spec.domains.map((d) => domainLdif(spec, d)),
  ];
  return parts.join('\n');
}

export function domainDn(spec: PlatformSpec, domain: string): string {
  return `associatedDomain=${domain},ou=domains,${spec.ldap.baseDn}`;
}

function domainLdif(spec: PlatformSpec, domain: string): string {
  return `dn: ${domainDn(spec, domain)}\nobjectClass: organizationalUnit\nobjectClass: domainRelatedObject\nou: ${domain}\nassociatedDomain: ${domain}\n`;
}

export function accountDn(spec: PlatformSpec, address: string): string {
  return `mail=${address},ou=accounts,${spec.ldap.baseDn}`;
}

/** LDAP attributes of an account entry; `passwordHash` is a stored password (`{ARGON2ID}…`, see password.ts). */
export function accountAttributes(account: Account, passwordHash: string): Record<string, string | string[]> {
  const local = account.address.split('@')[0] ?? account.address;
  return {
    objectClass: ['inetOrgPerson', 'mailfleetAccount'],
    cn: account.address,
    sn: local,
    mail: account.address,
    userPassword: passwordHash,
    mailQuotaBytes: String(quotaBytes(account.quota)),
  };
}

/** The prober's mailbox: small, since it never keeps a message longer than a few intervals. */
export const PROBE_ACCOUNT_QUOTA = '10M';

/** The prober's account while the prober runs (its password a platform secret, which must be filled in). */
export function probeAccount(spec: PlatformSpec): Account | undefined {
  if (!probeRuns(spec)) return undefined;
  return { address: spec.probe.address, password: requireSecret(spec, 'probePassword'), quota: PROBE_ACCOUNT_QUOTA };
}

/**
 * An LDIF for `slapmodify` that makes a platform-made account what the spec says now: the password and
 * quota of an existing entry replaced, a missing one added. So an account added to the platform later (the
 * prober's, in a directory seeded before it existed) or a rotated password takes effect at slapd's next start.
 */
export function accountChangeLdif(spec: PlatformSpec, account: Account, passwordHash: string, exists: boolean): string {
  if (!exists) return accountLdif(spec, account, passwordHash).replace('\n', '\nchangetype: add\n');
  return [
    `dn: ${accountDn(spec, account.address)}`,
    'changetype: modify',
    'replace: userPassword',
    `userPassword: ${passwordHash}`,
    '-',
    'replace: mailQuotaBytes',
    `mailQuotaBytes: ${quotaBytes(account.quota)}`,
    '-',
    '',
  ].join('\n');
}

export function accountLdif(spec: PlatformSpec, account: Account, passwordHash: string): string {
  const lines = [`dn: ${accountDn(spec, account.address)}`];
  for (const [k, v] of Object.entries(accountAttributes(account, passwordHash))) {
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  }
  return lines.join('\n') + '\n';
}

export function slapdFiles(input: ConfigInput, rootPasswordHash: string): ConfigFiles {
  return { 'slapd-config.ldif': slapdConfigLdif(input, rootPasswordHash) };
}
