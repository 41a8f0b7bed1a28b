/**
 * Where an `msa` has its users' passwords checked (SMTP AUTH): Dovecot auth on the proxy layer. Postfix's Dovecot
 * SASL client speaks in clear, so it talks to its own agent on loopback (`smtpd_sasl_path = inet:LOOPBACK:PORT`),
 * and the agent carries each connection to a proxy over TLS keyed by the relay key (src/auth-relay). Which proxy
 * is in `auth-relay-target` beside main.cf, read by the agent for each new connection. Every proxy checks against the
 * same LDAP, so the msas spread their logins over all of them rather than each sending every one to the first.
 *
 * Kubernetes: `input.authHost`, the ClusterIP Service `proxy-auth`, which lists the proxy pods that are ready. Not a
 * headless name as for LMTP: an smtpd process opens one auth connection at its first EHLO and keeps it while it
 * lives, and through a ClusterIP kube-proxy picks a ready endpoint for each new TCP connection, so the logins spread
 * over the ready proxies and one that goes unready (draining, stopped) gets no new connections; a broken connection
 * is opened again through the same name. With no proxy ready the relay closes Postfix's connection, smtpd has no
 * SASL mechanism and ends the session, so the msa's readiness check (EHLO on its health-check smtpd, which has SASL
 * on as the submission port has) fails until some proxy is ready, whichever it is.
 *
 * Single host: no name holds the proxies' loopback addresses: each msa names the proxy its ordinal picks (msa-0
 * proxy-0, msa-1 proxy-1, …; proxy-turn.ts), and is unready while that one does not answer. The runtime rewrites
 * the msa's config when a proxy comes back on a new address.
 */
import type { ConfigInput, InstanceContext } from './context.ts';
import { proxiesInTurn } from './proxy-turn.ts';

/** The file beside main.cf that names the proxy the msa's agent carries SMTP AUTH to: one line `HOST:PORT`. */
export const AUTH_RELAY_TARGET_FILE = 'auth-relay-target';

/** Where the msa's agent takes Postfix's SASL connections: the pod's loopback, or on one host the instance's address. */
export function authRelayListenHost(instance: InstanceContext): string {
  return instance.listen === '0.0.0.0' ? '127.0.0.1' : instance.listen;
}

/** The main.cf line that names the msa's SASL server: its agent's relay. */
export function postfixSaslPath({ spec, instance }: ConfigInput): string {
  return `smtpd_sasl_path = inet:${authRelayListenHost(instance)}:${spec.ports.auth}`;
}

/** `auth-relay-target`: the proxy (`HOST:PORT`, its auth port) the msa's agent carries SMTP AUTH to; empty when there is no proxy. */
export function authRelayTargetFile({ spec, instance, peers, authHost }: ConfigInput): string {
  const host = authHost ?? proxiesInTurn(peers.proxy, instance.name)[0]?.host;
  return host === undefined ? '' : `${host}:${spec.ports.auth}\n`;
}

/** The target `authRelayTargetFile` wrote; undefined when it names none. */
export function parseAuthRelayTarget(text: string): { host: string; port: number } | undefined {
  const line = text.trim();
  const colon = line.lastIndexOf(':');
  const port = Number(line.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host: line.slice(0, colon), port };
}
