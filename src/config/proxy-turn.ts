/**
 * Which proxy an `mta` or `msa` on the single host turns to first. No name holds the proxies' loopback addresses
 * there (Kubernetes has Services for that), so each instance names them itself, starting at the one its ordinal picks
 * (mta-0 proxy-0, mta-1 proxy-1, …, wrapping round): the instances of a role spread over the proxies instead of all
 * using the first. The LMTP next hop (postfix-lmtp.ts) and the msa's SASL (postfix-sasl.ts) both follow this order.
 */
import type { Peer } from './context.ts';

/** The ordinal in an instance's name (`mta-1` → 1); 0 for a name without one. */
function ordinalOf(name: string): number {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** The proxies, starting at the one the ordinal of `instanceName` picks and wrapping round; empty without proxies. */
export function proxiesInTurn(proxies: readonly Peer[], instanceName: string): Peer[] {
  if (proxies.length === 0) return [];
  const start = ordinalOf(instanceName) % proxies.length;
  return [...proxies.slice(start), ...proxies.slice(0, start)];
}
