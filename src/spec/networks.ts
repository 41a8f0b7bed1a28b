/**
 * The spec's IP addresses and networks, checked past the schema, whose patterns check only their form (digits,
 * dots, colons, a slash): `300.1.1.1/8` or `fe80::/200` pass those and would reach Postfix, Dovecot, unbound,
 * Calico and the Kubernetes API. One strict reading serves every field:
 * - an IPv4 address is four octets from 0 to 255 without leading zeros; an IPv6 address has no zone (`%eth0`);
 * - a prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6), without leading zeros;
 * - no bits are set past the prefix: Postfix's mynetworks and the policy server refuse `192.0.2.1/24`, a typo more
 *   often than a wish;
 * - no IPv4-mapped IPv6 (`::ffff:192.0.2.0/120`): the policy server refuses it, and the agent's PROXY-protocol gate
 *   compares mapped peers as IPv4, so such a range would never match.
 */
import { isIP, SocketAddress } from 'node:net';
import type { PlatformSpec } from './types.ts';

type Family = 4 | 6;

/** What a network field takes: one family or either, and whether an address alone (a /32 or /128) will do. */
export interface NetworkForm {
  readonly family?: Family;
  readonly bare?: boolean;
}

/** `[v6]`, `[v6]:port`, `host` or `host:port`. */
const ENDPOINT = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::([0-9]+))?$/;

/** 4 or 6 for an address without a zone (isIP takes `fe80::1%eth0`), else undefined. */
function familyOf(text: string): Family | undefined {
  if (text.includes('%')) return undefined;
  const family = isIP(text);
  return family === 4 || family === 6 ? family : undefined;
}

/** An address isIP accepted, as a number of 32 or 128 bits. */
function addressValue(text: string, family: Family): bigint {
  if (family === 4) return text.split('.').reduce((value, octet) => (value << 8n) | BigInt(octet), 0n);
  // A dotted IPv4 tail (`::ffff:192.0.2.1`) is the last two groups.
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a: string, b: string, c: string, d: string) =>
    `${(Number(a) * 256 + Number(b)).toString(16)}:${(Number(c) * 256 + Number(d)).toString(16)}`);
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const [head = '', tail] = hex.split('::');
  const given = [...groups(head), ...groups(tail ?? '')];
  const all = tail === undefined ? given : [...groups(head), ...new Array<string>(8 - given.length).fill('0'), ...groups(tail)];
  return all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function formatAddress(value: bigint, family: Family): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => (value >> shift) & 0xffn).join('.');
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((value >> shift) & 0xffffn).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

const either = (family: Family | undefined): string => (family === undefined ? 'IPv4 or IPv6' : `IPv${family}`);

/** Why `text` is not an IP address (of `family`, when given); undefined when it is one. */
export function addressProblem(text: string, family?: Family): string | undefined {
  const found = familyOf(text);
  return found === undefined || (family !== undefined && found !== family) ? `expected an ${either(family)} address` : undefined;
}

/** Why `text` is not a network, `address/prefix` (or with `bare` an address alone), as the module comment says. */
export function networkProblem(text: string, form: NetworkForm = {}): string | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = familyOf(address);
  if ((slash === -1 && form.bare !== true) || family === undefined || (form.family !== undefined && family !== form.family)) {
    return `expected an ${either(form.family)} network (address/prefix)${form.bare === true ? ' or address' : ''}`;
  }
  const value = addressValue(address, family);
  if (family === 6 && value >> 32n === 0xffffn) return 'expected an IPv4 network written as IPv4, not as IPv4-mapped IPv6';
  if (slash === -1) return undefined;
  const bits = family === 4 ? 32 : 128;
  const prefixText = text.slice(slash + 1);
  const prefix = /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= bits)) return `expected a prefix length from 0 to ${bits}`;
  const hostBits = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostBits) !== 0n) return `has bits set past its /${prefix} (the network is ${formatAddress(value & ~hostBits, family)}/${prefix})`;
  return undefined;
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
