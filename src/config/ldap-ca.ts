/**
 * The LDAP hop's CA (src/config/ldap-tls.ts): derived from slapd's key, and its certificate as the platform Secret
 * holds it for the clients. Apart from ldap-tls.ts so that the Secret's placeholders (placeholders.ts) can derive it.
 */
import { deriveInternalCa, type InternalCa } from '../internal-tls/index.ts';

/** The platform Secret's key holding the CA's certificate, for the clients. */
export const LDAP_TLS_CA_KEY = 'ldap-tls-ca';

/** The hop's CA from its key. */
export function ldapCa(key: string): InternalCa {
  return deriveInternalCa(key, 'ldap', 'ed25519');
}

/** The CA certificate as the platform Secret holds it: base64 DER on one line. */
export function ldapCaSecretValue(key: string): string {
  return ldapCa(key).certDer.toString('base64');
}
