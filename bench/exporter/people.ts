/**
 * The cast of a generated log: clients, addresses, message ids, queue ids, TLS parameters and reply texts, in
 * the shapes Postfix 3.7 writes them. Addresses come from the documentation ranges (RFC 5737, RFC 3849) and
 * names from reserved domains, so nothing in a generated log points at a real host.
 */
import type { Random } from './random.ts';

/** The platform's own domain and its accounts. */
export const LOCAL_DOMAIN = 'bench.test';
const FOREIGN_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example', 'corp.example', 'shop.example'];
const CLIENT_NAMES = ['mail-ot1-f54.provider.example', 'smtp.corp.example', 'out-12.mta.example.net', 'relay.example.org', 'mx.shop.example', 'o1.ptr2541.news.example.com'];
const FIRST = ['anna', 'ben', 'chen', 'dara', 'emil', 'fatima', 'gus', 'hana', 'ivo', 'jules', 'kim', 'lena', 'noreply', 'bounces+12345', 'info'];
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const HEX = '0123456789ABCDEF';

function chars(rng: Random, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
  return s;
}

/** A remote IPv4 address from the documentation ranges, or now and then an IPv6 one. */
export function remoteAddress(rng: Random): string {
  if (rng.chance(0.08)) return `2001:db8:${rng.int(0, 0xffff).toString(16)}::${rng.int(1, 0xffff).toString(16)}`;
  return `${rng.pick(['192.0.2', '198.51.100', '203.0.113'])}.${rng.int(1, 254)}`;
}

/** `name[address]` as smtpd names its client; `unknown` when the reverse lookup found nothing. */
export function client(rng: Random): { name: string; address: string; text: string } {
  const address = remoteAddress(rng);
  const name = rng.chance(0.3) ? 'unknown' : rng.pick(CLIENT_NAMES);
  return { name, address, text: `${name}[${address}]` };
}

/** A platform peer (mta → mailout, mta → proxy LMTP router): single-host loopback or a Kubernetes pod. */
export function peer(rng: Random, role: string, port: number): string {
  if (rng.chance(0.5)) {
    const ip = `127.90.0.${rng.int(2, 40)}`;
    return `${ip}[${ip}]:${port}`;
  }
  const n = rng.int(0, 2);
  return `${role}-${n}.${role}.mailfleet.svc.cluster.local[10.42.${rng.int(0, 7)}.${rng.int(2, 250)}]:${port}`;
}

export function localAddress(rng: Random): string {
  return `user${rng.int(1, 5000)}@${LOCAL_DOMAIN}`;
}

export function foreignAddress(rng: Random): string {
  return `${rng.pick(FIRST)}${rng.chance(0.5) ? `.${rng.int(1, 99)}` : ''}@${rng.pick(FOREIGN_DOMAINS)}`;
}

/** A remote MX of a foreign domain with its address: `mx2.example.net[203.0.113.9]`. */
export function remoteMx(rng: Random): string {
  return `mx${rng.int(1, 3)}.${rng.pick(FOREIGN_DOMAINS)}[${remoteAddress(rng)}]`;
}

export function heloName(rng: Random, c: { name: string }): string {
  if (c.name !== 'unknown') return c.name;
  return rng.pick(['localhost', 'User', '[192.0.2.1]', 'win-7g2k3.local', 'mail.example.com']);
}

export function messageId(rng: Random): string {
  switch (rng.weighted({ provider: 3, hex: 3, dotted: 2 })) {
    case 'provider': return `<CA+${chars(rng, BASE64.slice(0, 62), 28)}@mail.provider.example>`;
    case 'hex': return `<${chars(rng, HEX, 16).toLowerCase()}@${rng.pick(FOREIGN_DOMAINS)}>`;
    default: return `<${rng.int(1e9, 2e9)}.${rng.int(100, 9999)}.${chars(rng, HEX, 6).toLowerCase()}@${rng.pick(FOREIGN_DOMAINS)}>`;
  }
}

/** A Dovecot LMTP session id as its `Saved` reply shows it. */
export function dovecotId(rng: Random): string {
  return chars(rng, BASE64.slice(0, 62), 22);
}

/**
 * Postfix's short queue ids: upper-case hex, 10 or 11 digits, unique in one log (`counter` only ever grows: the
 * multiplier is odd, so counters below 2^32 map to distinct values).
 */
export function queueId(rng: Random, counter: number): string {
  const unique = (Math.imul(counter, 0x9e3779b1) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `${unique}${chars(rng, HEX, rng.chance(0.7) ? 2 : 3)}`;
}

/** What smtpd or smtp logs after `… TLS connection established from|to X: ` (Postfix 3.7 adds key exchange and signature). */
export function tlsParameters(rng: Random): { protocol: string; text: string } {
  if (rng.chance(0.8)) {
    const cipher = rng.pick(['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'TLS_CHACHA20_POLY1305_SHA256']);
    const bits = cipher.includes('128') ? 128 : 256;
    const signature = rng.pick(['ECDSA (prime256v1)', 'RSA-PSS (2048 bits)', 'RSA-PSS (4096 bits)']);
    return { protocol: 'TLSv1.3', text: `TLSv1.3 with cipher ${cipher} (${bits}/${bits} bits) key-exchange X25519 server-signature ${signature} server-digest SHA256` };
  }
  const cipher = rng.pick(['ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305']);
  const bits = cipher.includes('128') ? 128 : 256;
  return { protocol: 'TLSv1.2', text: `TLSv1.2 with cipher ${cipher} (${bits}/${bits} bits)` };
}

/** A delay as Postfix writes it: two decimals below 10 s, one below 100 s, whole seconds above; no trailing zeros. */
export function formatDelay(seconds: number): string {
  const fixed = seconds >= 100 ? seconds.toFixed(0) : seconds >= 10 ? seconds.toFixed(1) : seconds.toFixed(2);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') || '0' : fixed;
}

/** `delay=…, delays=a/b/c/d` for a delivery with the given stage times (before qmgr, in qmgr, connection set-up, transmission). */
export function delays(stages: [number, number, number, number]): string {
  const total = stages.reduce((a, b) => a + b, 0);
  return `delay=${formatDelay(total)}, delays=${stages.map(formatDelay).join('/')}`;
}

/** A message size in bytes: mostly a few KiB, sometimes megabytes. */
export function messageSize(rng: Random): number {
  return Math.round(rng.logUniform(600, rng.chance(0.05) ? 25e6 : 200e3));
}

/** Base64 of "Username:" or "Password:", the challenge a failed SASL LOGIN leaves in the log. */
export function loginChallenge(rng: Random): string {
  return rng.pick(['UGFzc3dvcmQ6', 'VXNlcm5hbWU6']);
}
