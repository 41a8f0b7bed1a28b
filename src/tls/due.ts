import type { CertificateFacts } from './pem.ts';
import { sameHosts } from './pem.ts';

/** Why a certificate must be (re)issued now. */
export type RenewalReason = 'missing' | 'unusable' | 'hosts-changed' | 'key-changed' | 'issuer-changed' | 'stand-in' | 'source-changed' | 'expired' | 'due';

/** The moment a certificate becomes due: `renewAfter` of its lifetime after notBefore. */
export function renewalTime(facts: Pick<CertificateFacts, 'notBefore' | 'notAfter'>, renewAfter: number): number {
  const from = facts.notBefore.getTime();
  return from + renewAfter * (facts.notAfter.getTime() - from);
}

/**
 * Whether an installed certificate (issued by the platform: local CA or ACME) must be renewed at `now`: it is due
 * once `renewAfter` of its lifetime has passed, or at once when its hosts are not exactly the spec's.
 */
export function renewalReason(facts: CertificateFacts, want: { hosts: readonly string[]; renewAfter: number }, now: number): RenewalReason | undefined {
  if (!sameHosts(facts.hosts, want.hosts)) return 'hosts-changed';
  if (now >= facts.notAfter.getTime()) return 'expired';
  if (now >= renewalTime(facts, want.renewAfter)) return 'due';
  return undefined;
}
