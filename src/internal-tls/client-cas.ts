/**
 * The CAs of the internal hops whose clients all hold the secret the CA is derived from, so that no new secret is
 * handed around: holding it lets one issue a certificate those clients trust, which gives nothing the secret did not.
 * Each is derived once per secret (a caller may ask on every request).
 *
 * - auth policy: the proxies' Dovecot asking the policy server about logins, from the auth policy credential (only
 *   the proxies and the policy server hold it).
 * - doveadm: the backend-sync controller, the operator and a draining mailbox calling the proxies' doveadm HTTP API,
 *   from the doveadm API key (it commands the directors).
 * - redis: the policy servers and rspamd (through its agent) talking to the kvs, from the Redis password (it reads
 *   and writes everything Redis keeps).
 */
import { deriveInternalCa, type InternalCa } from './ca.ts';

function derivedOnce(hop: string): (secret: string) => InternalCa {
  let last: { secret: string; ca: InternalCa } | undefined;
  return (secret) => {
    if (last?.secret !== secret) last = { secret, ca: deriveInternalCa(secret, hop) };
    return last.ca;
  };
}

export const authPolicyCa = derivedOnce('auth-policy');
export const doveadmCa = derivedOnce('doveadm');
export const redisCa = derivedOnce('redis');
