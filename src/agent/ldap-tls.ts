/**
 * slapd's side of TLS on the binds to LDAP (src/config/ldap-tls.ts): its agent issues slapd's certificate from the
 * LDAP hop's CA at each start, for the address and DNS name clients dial, and a new one before it runs out; slapd
 * reads the new one when its TLS settings are written again over its root-only `ldapi` socket, without a restart
 * (sessions keep theirs).
 */
import { execFile } from 'node:child_process';
import { chownSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ldapCa, ldapServedPath, type InstanceContext, type Peers } from '../config/index.ts';
import { requireSecret, type PlatformSpec } from '../spec/index.ts';
import { account, PRIVILEGED } from './fs.ts';
import { renewInternalTls, selfCheckedTlsHosts, writeServedCertificate, type InternalTlsRenewal, type RenewalContext } from './internal-tls.ts';

const run = promisify(execFile);
/** ldapmodify against a hung slapd must not hold the renewal. */
const LDAPMODIFY_TIMEOUT_MS = 10_000;

/** Where slapd's root-only socket for its own agent lives. */
export function ldapiSocketPath(instance: InstanceContext): string {
  return join(instance.runDir, 'ldapi');
}

/** The `ldapi` URL of that socket; slapd's listener creates it for its owner only (`x-mod`). */
export function ldapiUrl(instance: InstanceContext, options: { listener: boolean }): string {
  const url = `ldapi://${encodeURIComponent(ldapiSocketPath(instance))}`;
  return options.listener ? `${url}/????x-mod=0600` : url;
}

/**
 * The names slapd's certificate holds: the address and DNS name clients dial, and, where slapd listens on every
 * address (a pod), 127.0.0.1, which its agent's readiness check dials.
 */
export function ldapTlsHosts(instance: InstanceContext, peers: Peers): string[] {
  return selfCheckedTlsHosts(instance, peers.ldap.find((p) => p.name === instance.name)?.host);
}

/** Writes slapd's certificate (key, then certificate; slapd's user only) and returns its end. Before slapd starts. */
export function installLdapTls(spec: PlatformSpec, instance: InstanceContext, peers: Peers, now = Date.now()): Date {
  const file = ldapServedPath(instance);
  const notAfter = writeServedCertificate(instance, ldapCa(requireSecret(spec, 'ldapTlsKey')), ldapTlsHosts(instance, peers), file, now);
  // slapd reads the key after it has become its own user.
  if (PRIVILEGED) {
    const { uid, gid } = account('openldap');
    chownSync(file, uid, gid);
  }
  return notAfter;
}

/**
 * Has slapd read its certificate file again: writing any of its TLS settings over `ldapi` (as root, EXTERNAL)
 * rebuilds its TLS context for new connections. A failure (slapd could not use the file) is thrown.
 */
export async function reloadLdapTls(instance: InstanceContext): Promise<void> {
  const file = ldapServedPath(instance);
  const ldif = `dn: cn=config\nchangetype: modify\nreplace: olcTLSCertificateFile\nolcTLSCertificateFile: ${file}\n-\nreplace: olcTLSCertificateKeyFile\nolcTLSCertificateKeyFile: ${file}\n-\n`;
  const child = run('ldapmodify', ['-Q', '-Y', 'EXTERNAL', '-H', ldapiUrl(instance, { listener: false })], {
    timeout: LDAPMODIFY_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    env: { ...process.env, LDAPCONF: '/dev/null', LDAPRC: '/dev/null' },
  });
  child.child.stdin?.end(ldif);
  await child;
}

/** Keeps slapd's certificate current; exports its end as `mailfleet_agent_ldap_tls_expiry_timestamp_seconds`. */
export function renewLdapTls(opts: RenewalContext & { spec: PlatformSpec; instance: InstanceContext; peers: () => Peers }): InternalTlsRenewal {
  const { spec, instance, peers, ...context } = opts;
  const now = opts.now ?? Date.now;
  return renewInternalTls({
    ...context,
    issue: () => installLdapTls(spec, instance, peers(), now()),
    reload: () => reloadLdapTls(instance),
    metric: { name: 'mailfleet_agent_ldap_tls_expiry_timestamp_seconds', help: 'When the certificate slapd serves its clients runs out (it is replaced 10 days before)' },
    what: 'LDAP TLS certificate',
  });
}
