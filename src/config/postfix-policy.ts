/**
 * The flow-control checks of an `mta` or `msa`: `check_policy_service` at each stage at which one of the rules
 * for that role counts (recipients at RCPT, messages at DATA, bytes at END-OF-MESSAGE, connections at CONNECT),
 * and nowhere else, so a request is only ever sent where it can count. No rule, no policy instance, no check.
 *
 * Every check carries its own client settings (Postfix 3.0+ `{ ... }` form): a timeout just above the server's
 * own deadline, `default_action=DUNNO` (an unreachable or silent policy server lets mail through, it never
 * holds it), one try (a dead connection costs one unchecked request, never a second-long retry delay), and
 * the role as `policy_context`, which `rules[].contexts` selects on. Postfix's idle limit stays at its 300 s,
 * under the server's 330 s, so Postfix closes idle connections first.
 */
import { policyCounts, type PolicyContext } from '../spec/index.ts';
import type { ConfigInput } from './context.ts';

export interface PostfixPolicyChecks {
  /** Appended to `smtpd_recipient_restrictions`, which run after the relay restrictions' `reject_unauth_destination`. */
  recipient: string[];
  /** `smtpd_client_restrictions`: counted connections. */
  client: string[];
  /** `smtpd_data_restrictions`: counted messages (one request per message, before its body). */
  data: string[];
  /** `smtpd_end_of_data_restrictions`: counted bytes (the only stage that knows the size). */
  endOfData: string[];
  /**
   * `smtpd_delay_reject`: `no` only while connections are counted; with `yes` (Postfix's default, and ours)
   * the client restrictions wait for RCPT, and a CONNECT request would never be sent.
   */
  delayReject: boolean;
}

/** Seconds Postfix waits for a reply: the server's deadline, rounded up, plus a second for the network. */
export function policyTimeoutSeconds(deadlineMs: number): number {
  return Math.ceil(deadlineMs / 1000) + 1;
}

/** `inet:` endpoint of a host (a name, an IPv4 or a bracketed IPv6 address) and port. */
function endpoint(host: string, port: number): string {
  return `inet:${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function postfixPolicyChecks({ spec, peers }: ConfigInput, role: PolicyContext): PostfixPolicyChecks {
  const counts = policyCounts(spec, role);
  const server = peers.policy?.[0];
  if (server === undefined || counts.size === 0) return { recipient: [], client: [], data: [], endOfData: [], delayReject: true };
  const options = [
    endpoint(server.host, spec.ports.policy),
    `timeout=${policyTimeoutSeconds(spec.policy.deadlineMs)}s`,
    'default_action=DUNNO',
    'try_limit=1',
    `policy_context=${role}`,
  ];
  const check = [`check_policy_service { ${options.join(', ')} }`];
  return {
    recipient: counts.has('recipients') ? check : [],
    client: counts.has('connections') ? check : [],
    data: counts.has('messages') ? check : [],
    endOfData: counts.has('bytes') ? check : [],
    delayReject: !counts.has('connections'),
  };
}
