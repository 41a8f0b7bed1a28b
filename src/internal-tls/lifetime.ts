/**
 * How long the internal hops' server certificates live (src/agent's backend and slapd certificates, the policy
 * server's for the auth policy), and when a new one is due: one month, renewed 10 days before the end.
 */

/** A served certificate lives a month; a server that runs longer gets a new one. */
export const INTERNAL_TLS_VALIDITY_DAYS = 30;
/** A new certificate is issued once the one served has less than this left. */
export const INTERNAL_TLS_RENEW_BEFORE_MS = 10 * 86_400_000;
/** How often the served certificate's end is looked at. */
export const INTERNAL_TLS_CHECK_MS = 3_600_000;

export function internalTlsDue(notAfter: Date, now: number): boolean {
  return notAfter.getTime() - now < INTERNAL_TLS_RENEW_BEFORE_MS;
}
