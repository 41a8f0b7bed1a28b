/**
 * The doveadm hop's CA (the backend-sync controller, the operator and a draining mailbox calling the proxies'
 * doveadm HTTP API): derived from the doveadm API key, which every caller and the proxies already hold. Holding it
 * lets one issue a certificate a caller trusts, which gives nothing the key did not: it commands the directors.
 */
import { deriveInternalCa, type InternalCa } from './ca.ts';

const cache = new Map<string, InternalCa>();

/** The CA, derived once per key (a controller's every pass asks for it). */
export function doveadmCa(apiKey: string): InternalCa {
  let ca = cache.get(apiKey);
  if (ca === undefined) {
    ca = deriveInternalCa(apiKey, 'doveadm');
    cache.clear();
    cache.set(apiKey, ca);
  }
  return ca;
}
