/**
 * The spec's IP addresses and networks, checked past the schema, whose patterns check only their form (digits,
 * dots, colons, a slash): `300.1.1.1/8` or `fe80::/200` pass those and would reach Postfix, Dovecot, unbound,
 * Calico and the Kubernetes API. One strict reading serves every field, the policy server's (`parseNetwork`, whose
 * comment says what it takes): the agent's PROXY-protocol gate, like the policy server, compares mapped peers as
 * IPv4, and Postfix's mynetworks refuses host bits past the prefix. An IPv6 address has no zone (`%eth0`).
 */
import { isIP } from 'node:net';
import { parseNetwork, type NetworkForm } from '../policy/document.ts';
import type { PlatformSpec } from './types.ts';

type Family = 4 | 6;

export type { NetworkForm };

/** `[v6]`, `[v6]:port`, `host` or `host:port`. */
const ENDPOINT = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([0-9]+))?$/;

/** 4 or 6 for an address without a zone (isIP takes `fe80::1%eth0`), else undefined. */
function familyOf(text: string): Family | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  return family === 4 || family === 6 ? family : undefined;
}

const either = (family: Family | undefined): string => (family === undefined ? 'IPv4 or IPv6' : `IPv${family}`);

/** Why `text` is not an IP address (of `family`, when given); undefined when it is one. */
export function addressProblem(text: string, family?: Family): string | undefined {
  const found = familyOf(text);
  return found === undefined || (family !== undefined && found !== family) ? `expected an ${either(family)} address` : undefined;
}

/** Why `text` is not a network, `address/prefix` (or with `bare` an address alone), as the module comment says. */
export function networkProblem(text: string, form: NetworkForm = {}): string | undefined {
  const parsed = parseNetwork(text, { ...form, bare: form.bare === true });
  return typeof parsed === 'string' ? parsed : undefined;
}

/**
 * Why `text` is not `address`, `address:port` or the same with `[v6]`: an IPv4 address, a bracketed IPv6 one, or
 * with `names` a host name (its form is the schema's; one of digits and dots only is an address); a port from 1
 * to 65535.
 */
export function endpointProblem(text: string, names = false): string | undefined {
  const m = ENDPOINT.exec(text);
  if (!m) return 'expected address or address:port';
  const [, v6, host = '', port] = m;
  const problem = v6 !== undefined ? addressProblem(v6, 6) : names && !/^[0-9.]+$/.test(host) ? undefined : addressProblem(host, 4);
  if (problem !== undefined) return problem;
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return 'expected a port from 1 to 65535';
  return undefined;
}

/**
 * Problems of every address and network in the spec, one per value, naming its field and quoting it as the policy
 * server does: `spec.relayNetworks[0]: "192.168.1.0/33" expected a prefix length from 0 to 32`.
 */
export function networkProblems(spec: PlatformSpec): string[] {
  const problems: string[] = [];
  const check = (at: string, value: string, problem: string | undefined): void => {
    if (problem !== undefined) problems.push(`${at}: ${JSON.stringify(value)} ${problem}`);
  };
  const networks = (at: string, values: readonly string[], form?: NetworkForm): void => {
    values.forEach((value, i) => check(`${at}[${i}]`, value, networkProblem(value, form)));
  };
  networks('spec.relayNetworks', spec.relayNetworks);
  networks('spec.loadBalancer.sourceRanges', spec.loadBalancer.sourceRanges);
  for (const pool of ['mailout', 'fallback'] as const) {
    const { ipv4Cidr, ipv6Cidr } = spec.outbound[pool];
    check(`spec.outbound.${pool}.ipv4Cidr`, ipv4Cidr, networkProblem(ipv4Cidr, { family: 4 }));
    if (ipv6Cidr !== undefined) check(`spec.outbound.${pool}.ipv6Cidr`, ipv6Cidr, networkProblem(ipv6Cidr, { family: 6 }));
  }
  const { kubernetes, policy } = spec;
  check('spec.kubernetes.nodeLocalDnsAddress', kubernetes.nodeLocalDnsAddress, addressProblem(kubernetes.nodeLocalDnsAddress, 4));
  networks('spec.kubernetes.podNetworks', kubernetes.podNetworks);
  networks('spec.kubernetes.nodeNetworks', kubernetes.nodeNetworks);
  // Exemptions take an address alone too, as the policy server's rules do.
  networks('spec.policy.exempt.networks', policy.exempt.networks, { bare: true });
  policy.rules.forEach((r, i) => networks(`spec.policy.rules[${i}].exempt.networks`, r.exempt.networks, { bare: true }));
  spec.filter.nameservers.forEach((ns, i) => check(`spec.filter.nameservers[${i}]`, ns, endpointProblem(ns)));
  const listen = spec.tls.acme?.http01Listen;
  if (listen !== undefined) check('spec.tls.acme.http01Listen', listen, endpointProblem(listen, true));
  return problems;
}
