/**
 * The Redis hop's CA (the policy servers and the filters' rspamd, through its agent, talking to the `kvs`): derived
 * from the Redis password, which every client and Redis already hold. Holding it lets one issue a certificate a
 * client trusts, which gives nothing the password did not: it reads and writes everything Redis keeps.
 */
import { deriveInternalCa, type InternalCa } from './ca.ts';

const cache = new Map<string, InternalCa>();

/** The CA, derived once per password. */
export function redisCa(password: string): InternalCa {
  let ca = cache.get(password);
  if (ca === undefined) {
    ca = deriveInternalCa(password, 'redis');
    cache.clear();
    cache.set(password, ca);
  }
  return ca;
}
