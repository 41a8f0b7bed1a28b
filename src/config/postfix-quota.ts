/**
 * The mailbox quota check of an `mta` (`spec.quota.checkAtRcpt`): at RCPT, after the recipient is known to exist, the
 * mta asks the quota relay of a proxy (a Postfix policy service, src/quota) whether the message fits in the
 * recipient's mailbox, and refuses it there (`552 5.2.2`) when it does not. Without the check such mail is accepted,
 * refused at delivery by the backend and bounced to its envelope sender, forged for most spam: backscatter, which
 * gets the platform's outbound addresses listed.
 *
 * The relay answers within {@link QUOTA_RELAY_DEADLINE_MS} whatever happens behind it (DUNNO when it cannot tell);
 * Postfix gives it a second more, then takes `default_action=DUNNO`, and tries once: a dead relay costs one unchecked
 * recipient, never a retry delay. The check uses the `size` the client announced in `MAIL FROM` (`SIZE=`), as every
 * MTA that offers SIZE does; a client that announces none is checked as for an empty message, which only a mailbox
 * already full refuses.
 *
 * Kubernetes: `input.quotaHost`, the ClusterIP Service `proxy-quota` of the ready proxies (Postfix's policy client,
 * like its SASL client, connects to the first address a name gives: kube-proxy spreads the connections instead).
 * Single host: the proxy the mta's ordinal picks (proxy-turn.ts), as for SASL; `check_policy_service` takes one
 * endpoint, and a proxy that does not answer only means the mail is let through unchecked, as without the check,
 * until the runtime rewrites the config for its new address.
 *
 * Not on the `msa`: submission is mail from an authenticated user, whose sender address is real, so the bounce from a
 * full local mailbox reaches the person who sent the message (as it would from any other provider) and no one else;
 * a check there would cost a round-trip on every submitted recipient, most of them outside the platform.
 */
import type { ConfigInput } from './context.ts';
import { policyTimeoutSeconds } from './postfix-policy.ts';
import { proxiesInTurn } from './proxy-turn.ts';

/** Time from a complete question to the relay's answer at most; past it, DUNNO. */
export const QUOTA_RELAY_DEADLINE_MS = 1000;

/** The `check_policy_service` restriction, for `smtpd_recipient_restrictions`; none while the check is off or no proxy runs. */
export function postfixQuotaCheck({ spec, instance, peers, quotaHost }: ConfigInput): string[] {
  if (!spec.quota.checkAtRcpt || spec.roles.proxy.replicas === 0 || spec.roles.mailbox.replicas === 0) return [];
  const host = quotaHost ?? proxiesInTurn(peers.proxy, instance.name)[0]?.host;
  if (host === undefined) return [];
  const options = [
    `inet:${host.includes(':') ? `[${host}]` : host}:${spec.ports.quotaStatus}`,
    `timeout=${policyTimeoutSeconds(QUOTA_RELAY_DEADLINE_MS)}s`,
    'default_action=DUNNO',
    'try_limit=1',
  ];
  return [`check_policy_service { ${options.join(', ')} }`];
}
