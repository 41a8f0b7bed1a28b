/**
 * TLS on the binds to LDAP. Postfix (the `mta`'s and `msa`'s address maps) and Dovecot (proxies and backends, which
 * read the Argon2id hashes) bind with a service account's password: every bind goes after StartTLS, to a slapd
 * whose certificate the LDAP hop's CA issued for the name the client dialled, and slapd takes no bind in clear.
 *
 * The CA is derived from the platform secret `ldap-tls-key` (an Ed25519 key, src/internal-tls/ca.ts), which only
 * the `ldap` pods hold: slapd's agent issues its certificate at each start. The clients hold only the CA's
 * certificate, the same bytes wherever it is derived, as the platform Secret's key `ldap-tls-ca` (base64 DER on
 * one line, a value the Secret's readers take); an Internet-facing `mta` that holds it cannot pose as slapd to the
 * proxies, whose account reads the hashes.
 */
import { join } from 'node:path';
import { requireSecret, type PlatformSpec } from '../spec/index.ts';
import type { InstanceContext } from './context.ts';
import { LDAP_TLS_CA_KEY, ldapCa, ldapCaSecretValue } from './ldap-ca.ts';
import { SECRET_KEYS, secretPlaceholder } from './placeholders.ts';

export { LDAP_TLS_CA_KEY, ldapCa, ldapCaSecretValue };

/** The clients' CA file, among their generated config files. */
export const LDAP_CA_FILE = 'ldap-ca.pem';

/**
 * The clients' CA file: derived where the spec holds the key (the single host), the Secret key's placeholder where it
 * is redacted (a rendered ConfigMap; the agent puts the value in). One base64 line between the PEM markers, which
 * GnuTLS and OpenSSL both read.
 */
export function ldapCaFile(spec: PlatformSpec): string {
  const key = requireSecret(spec, 'ldapTlsKey');
  const body = key === secretPlaceholder(SECRET_KEYS.ldapTlsKey) ? secretPlaceholder(LDAP_TLS_CA_KEY) : ldapCaSecretValue(key);
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** Where an LDAP client's daemons read the CA file. */
export function ldapCaPath(instance: InstanceContext): string {
  return join(instance.configDir, LDAP_CA_FILE);
}

/** slapd's certificate (key, then certificate), which its agent issues; in the run dir, slapd's user only. */
export function ldapServedPath(instance: InstanceContext): string {
  return join(instance.runDir, 'ldap-tls.pem');
}

/**
 * Node's TLS options for StartTLS to slapd at `host` (the name dialled, checked against its certificate): the hop's
 * CA alone, TLS 1.3. For mailfleet's own clients, which hold the key (the single host, slapd's agent).
 */
export function ldapStartTlsOptions(spec: PlatformSpec, host: string): { ca: string; host: string; minVersion: 'TLSv1.3' } {
  return { ca: ldapCa(requireSecret(spec, 'ldapTlsKey')).certPem, host, minVersion: 'TLSv1.3' };
}
