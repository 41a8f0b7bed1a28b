/**
 * TLS on the proxies' auth policy requests (they carry the credential, and per login the login name and the client's
 * address): the policy server serves HTTPS with a certificate of a CA derived from that credential (src/internal-tls),
 * which only the proxies and the policy server hold; the proxies' Dovecot trusts that CA alone. The server issues
 * its certificate at start, for the names the proxies dial, and a new one before it runs out.
 */
import { authPolicyCa, INTERNAL_TLS_VALIDITY_DAYS, issueInternalCertificate } from '../internal-tls/index.ts';

/** A server certificate for `names` (key, then certificate, PEM) and its end. */
export function issueAuthPolicyCertificate(apiKey: string, names: readonly string[], now = Date.now()): { pem: string; notAfter: Date } {
  return issueInternalCertificate(authPolicyCa(apiKey), { hosts: names, validityDays: INTERNAL_TLS_VALIDITY_DAYS }, now);
}
