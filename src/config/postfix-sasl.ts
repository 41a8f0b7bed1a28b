/**
 * Where an `msa` has its users' passwords checked (SMTP AUTH): Dovecot auth on the proxy layer, over TCP
 * (`smtpd_sasl_path = inet:HOST:PORT`). Every proxy checks against the same LDAP, so the msas spread their logins
 * over all of them rather than each sending every one to the first.
 *
 * Kubernetes: `input.authHost`, the ClusterIP Service `proxy-auth`, which lists the proxy pods that are ready. Not a
 * headless name as for LMTP: Postfix's Dovecot SASL client (xsasl_dovecot_server.c) connects with inet_connect(),
 * which takes the addresses in the order the resolver gives and keeps the first that answers, with no shuffle
 * (`lmtp_randomize_addresses` belongs to the LMTP client). Every smtpd process of every msa would then open its auth
 * connection to whichever proxy DNS happened to list first (with Postfix 3.7 and two addresses in /etc/hosts, six
 * sessions out of six went to the first). Through a ClusterIP, kube-proxy picks a ready endpoint for each new TCP
 * connection (an smtpd process opens one at its first EHLO and keeps it while it lives), so the logins spread over
 * the ready proxies and one that goes unready (draining, stopped) gets no new connections; a broken connection is
 * opened again through the same name. The name resolves whatever the endpoints; with no proxy ready the connection
 * fails, smtpd has no SASL mechanism and ends the session, so the msa's readiness check (EHLO on its health-check smtpd,
 * which has SASL on as the submission port has) fails until some proxy is ready, whichever it is.
 *
 * Single host: no name holds the proxies' loopback addresses, and `smtpd_sasl_path` takes one endpoint: each msa
 * names the proxy its ordinal picks (msa-0 proxy-0, msa-1 proxy-1, …; proxy-turn.ts), and is unready while that one
 * does not answer. The runtime rewrites the msa's config when a proxy comes back on a new address.
 */
import type { ConfigInput } from './context.ts';
import { proxiesInTurn } from './proxy-turn.ts';

/** The main.cf line that names the msa's SASL server. */
export function postfixSaslPath({ spec, instance, peers, authHost }: ConfigInput): string {
  const host = authHost ?? proxiesInTurn(peers.proxy, instance.name)[0]?.host ?? '127.0.0.1';
  return `smtpd_sasl_path = inet:${host}:${spec.ports.auth}`;
}
