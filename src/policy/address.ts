/**
 * IP addresses as the policy server needs them: parse what Postfix sends in `client_address`, match networks,
 * and aggregate a client into its /24 or /64 (or any prefix) so that one limit covers a whole network.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) are IPv4. The platform spec reads its networks with the same
 * `parseNetwork`.
 */
import { SocketAddress } from 'node:net';

export interface IpAddress {
  readonly version: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly bytes: Uint8Array;
}

export interface Network extends IpAddress {
  readonly prefix: number;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  for (const group of text.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    groups.push(parseInt(group, 16));
  }
  return groups;
}

function parseIpv6(input: string): Uint8Array | undefined {
  const zone = input.indexOf('%');
  let text = zone === -1 ? input : input.slice(0, zone);
  if (text.length > 45 || text.length < 2) return undefined;
  // An IPv4 tail (::ffff:192.0.2.1, ::192.0.2.1) becomes the last two groups.
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    tail = [((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number)];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const given = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (given > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
  } else {
    if (given !== 8) return undefined;
    groups = [...head, ...tail];
  }
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** An IPv4 or IPv6 address literal, or undefined (`unknown`, a name, garbage). */
export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const bytes = parseIpv6(text);
    if (!bytes) return undefined;
    if (V4_MAPPED.every((b, i) => bytes[i] === b)) return { version: 4, bytes: bytes.slice(12) };
    return { version: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes ? { version: 4, bytes } : undefined;
}

/** What a network may be: one family or either, and whether an address alone (a /32 or /128) will do (default yes). */
export interface NetworkForm {
  readonly family?: 4 | 6;
  readonly bare?: boolean;
}

const either = (family: 4 | 6 | undefined): string => (family === undefined ? 'IPv4 or IPv6' : `IPv${family}`);

/**
 * `192.0.2.0/24`, `2001:db8::/32`, or with `form.bare` (the default) an address alone (a /32 or /128); else why
 * not, said so the caller can quote the value before it. Read strictly, for the spec's fields as for the policy
 * rules:
 * - an IPv4 address is four octets from 0 to 255 without leading zeros; an address with a zone (`%eth0`) is not a
 *   network;
 * - a prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6), without leading zeros;
 * - no bits are set past the prefix: `192.0.2.1/24` is a typo more often than a wish;
 * - no IPv4-mapped IPv6 (`::ffff:192.0.2.0/120`): a client's mapped address is compared as IPv4, so such a network
 *   would never match.
 */
export function parseNetwork(text: string, form: NetworkForm = {}): Network | string {
  const bare = form.bare ?? true;
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const mapped = address.includes(':');
  const ip = address.includes('%') ? undefined : parseIp(address);
  const family = ip === undefined ? undefined : mapped ? 6 : ip.version;
  if ((slash === -1 && !bare) || ip === undefined || (form.family !== undefined && family !== form.family)) {
    return `expected an ${either(form.family)} network (address/prefix)${bare ? ' or address' : ''}`;
  }
  if (mapped && ip.version === 4) return 'expected an IPv4 network written as IPv4, not as IPv4-mapped IPv6';
  const max = ip.version === 4 ? 32 : 128;
  if (slash === -1) return { ...ip, prefix: max };
  const prefixText = text.slice(slash + 1);
  const prefix = /^(0|[1-9][0-9]{0,2})$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix <= max)) return `expected a prefix length from 0 to ${max}`;
  const masked = mask(ip.bytes, prefix);
  if (!masked.every((b, i) => b === ip.bytes[i])) return `has bits set past its /${prefix} (the network is ${shortForm({ version: ip.version, bytes: masked })}/${prefix})`;
  return { ...ip, prefix };
}

function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (bytes[i] as number) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Whether `ip` is inside `network` (an IPv4 address is never inside an IPv6 network, nor the reverse). */
export function contains(network: Network, ip: IpAddress): boolean {
  if (network.version !== ip.version) return false;
  const full = network.prefix >> 3;
  for (let i = 0; i < full; i++) if (network.bytes[i] !== ip.bytes[i]) return false;
  const bits = network.prefix & 7;
  if (bits === 0) return true;
  const m = (0xff << (8 - bits)) & 0xff;
  return ((network.bytes[full] as number) & m) === ((ip.bytes[full] as number) & m);
}

function format(ip: IpAddress): string {
  if (ip.version === 4) return ip.bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number)).toString(16));
  return groups.join(':');
}

/** `ip` as people write it: IPv6 with its longest run of zero groups as `::` (RFC 5952). */
function shortForm(ip: IpAddress): string {
  return ip.version === 4 ? format(ip) : new SocketAddress({ address: format(ip), family: 'ipv6' }).address;
}

/** The network `ip` falls in, at `prefix4` or `prefix6` bits, as text: `192.0.2.0/24`, `2001:db8:0:1:0:0:0:0/64`. */
export function networkOf(ip: IpAddress, prefix4: number, prefix6: number): string {
  const prefix = ip.version === 4 ? prefix4 : prefix6;
  return `${format({ version: ip.version, bytes: mask(ip.bytes, prefix) })}/${prefix}`;
}
