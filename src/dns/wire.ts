/**
 * The few DNS messages a counting server needs (RFC 1035): parse a query, build a response.
 * Pure: bytes in, typed values out. Bad input is never thrown; it comes back as `{ ok: false }`.
 *
 * Names are shown in presentation form, absolute, with the trailing dot (`mx.example.co.jp.`);
 * `.` and `\` inside a label and bytes outside printable ASCII are escaped (`\.`, `\\`, `\DDD`).
 */

/** Query types by number; any other type is shown as `TYPEnnn` (RFC 3597). */
export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, HTTPS: 65, ANY: 255 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof RCODE;

const CLASS_IN = 1;
const HEADER_BYTES = 12;
/** Longest name on the wire, length octets and root label included (RFC 1035 §3.1). */
export const MAX_NAME_WIRE_BYTES = 255;
export const MAX_LABEL_BYTES = 63;
/** TTL of the addresses the counting server hands out. */
export const ANSWER_TTL_SECONDS = 60;
const POINTER_TO_QUESTION = 0xc00c;
const LOOPBACK_V4 = [127, 0, 0, 1];
const LOOPBACK_V6 = [...new Array<number>(15).fill(0), 1];

export interface DnsQuery {
  readonly id: number;
  readonly opcode: number;
  readonly recursionDesired: boolean;
  /** Presentation form, absolute: `mx.example.co.jp.`; the root is `.`. */
  readonly name: string;
  /** The raw labels, for echoing the question back byte for byte. */
  readonly labels: readonly Uint8Array[];
  readonly qtype: number;
  readonly qclass: number;
}

export type DnsParseResult = { readonly ok: true; readonly query: DnsQuery } | { readonly ok: false; readonly reason: string };

/** What the server says about a queried name. */
export type DnsVerdict = 'nxdomain' | 'exists';

export function qtypeName(qtype: number): string {
  for (const [name, value] of Object.entries(QTYPE)) if (value === qtype) return name;
  return `TYPE${qtype}`;
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

function u16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

type NameResult = { ok: true; labels: Uint8Array[]; end: number } | { ok: false; reason: string };

/**
 * Reads a (possibly compressed) name at `offset`. Every compression pointer must point before the
 * previous one's target (RFC 9267), so following them always ends; the name may not exceed 255 bytes.
 */
export function decodeName(packet: Uint8Array, offset: number): NameResult {
  const labels: Uint8Array[] = [];
  let position = offset;
  let end = -1;
  let ceiling = offset;
  let wireBytes = 1;
  for (;;) {
    const length = packet[position];
    if (length === undefined) return fail('name runs past the end of the packet');
    if ((length & 0xc0) === 0xc0) {
      if (position + 1 >= packet.length) return fail('compression pointer cut off');
      const target = u16(packet, position) & 0x3fff;
      if (target >= ceiling) return fail('compression pointer does not point to an earlier name (a loop, or forward)');
      if (end < 0) end = position + 2;
      ceiling = target;
      position = target;
      continue;
    }
    if ((length & 0xc0) !== 0) return fail(`label type 0x${(length & 0xc0).toString(16)} is not supported`);
    if (length === 0) break;
    wireBytes += 1 + length;
    if (wireBytes > MAX_NAME_WIRE_BYTES) return fail(`name longer than ${MAX_NAME_WIRE_BYTES} bytes`);
    if (position + 1 + length > packet.length) return fail('label runs past the end of the packet');
    labels.push(packet.subarray(position + 1, position + 1 + length));
    position += 1 + length;
  }
  return { ok: true, labels, end: end < 0 ? position + 1 : end };
}

function presentLabel(label: Uint8Array): string {
  let text = '';
  for (const byte of label) {
    if (byte === 0x2e || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte > 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
    else text += `\\${String(byte).padStart(3, '0')}`;
  }
  return text;
}

/** Presentation form of raw labels, absolute (trailing dot). */
export function presentName(labels: readonly Uint8Array[]): string {
  return labels.length === 0 ? '.' : `${labels.map(presentLabel).join('.')}.`;
}

/** Presentation form, absolute, of a plain dotted name (backslashes in it are taken literally). */
export function presentPlainName(name: string): string {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  return text === '' ? '.' : presentName(text.split('.').map((label) => Buffer.from(label, 'utf8')));
}

/** Parses a query: exactly one question, QR clear. Anything after the question (EDNS OPT) is ignored. */
export function parseQuery(packet: Uint8Array): DnsParseResult {
  if (packet.length < HEADER_BYTES) return fail(`header needs ${HEADER_BYTES} bytes, got ${packet.length}`);
  const flags = u16(packet, 2);
  if ((flags & 0x8000) !== 0) return fail('QR is set: a response, not a query');
  const qdcount = u16(packet, 4);
  if (qdcount !== 1) return fail(`expected 1 question, got ${qdcount}`);
  const name = decodeName(packet, HEADER_BYTES);
  if (!name.ok) return name;
  if (name.end + 4 > packet.length) return fail('question type and class cut off');
  return {
    ok: true,
    query: {
      id: u16(packet, 0),
      opcode: (flags >> 11) & 0x0f,
      recursionDesired: (flags & 0x0100) !== 0,
      name: presentName(name.labels),
      labels: name.labels,
      qtype: u16(packet, name.end),
      qclass: u16(packet, name.end + 2),
    },
  };
}

function header(id: number, flags: number, qdcount: number, ancount: number): number[] {
  return [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qdcount, ancount >> 8, ancount & 0xff, 0, 0, 0, 0];
}

function responseFlags(opcode: number, recursionDesired: boolean, rcode: number): number {
  // QR, opcode echoed, AA, RD echoed, RA, rcode.
  return 0x8000 | (opcode << 11) | 0x0400 | (recursionDesired ? 0x0100 : 0) | 0x0080 | rcode;
}

function question(query: DnsQuery): number[] {
  const bytes: number[] = [];
  for (const label of query.labels) bytes.push(label.length, ...label);
  bytes.push(0, query.qtype >> 8, query.qtype & 0xff, query.qclass >> 8, query.qclass & 0xff);
  return bytes;
}

function resourceRecord(qtype: number, rdata: readonly number[]): number[] {
  const ttl = ANSWER_TTL_SECONDS;
  return [
    POINTER_TO_QUESTION >> 8, POINTER_TO_QUESTION & 0xff,
    qtype >> 8, qtype & 0xff,
    0, CLASS_IN,
    (ttl >>> 24) & 0xff, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff,
    rdata.length >> 8, rdata.length & 0xff,
    ...rdata,
  ];
}

/** The addresses an existing name has: 4 octets for A, 16 for AAAA; a family left out is answered with NODATA. */
export interface NameAddresses {
  readonly v4?: readonly number[];
  readonly v6?: readonly number[];
  /** TXT records, each as its character strings (at most 255 bytes each), answered to TXT queries. */
  readonly txt?: readonly (readonly string[])[];
}

/** TXT RDATA: each character string as its length octet and bytes (RFC 1035 §3.3.14). */
function txtRdata(strings: readonly string[]): number[] {
  const rdata: number[] = [];
  for (const text of strings) {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > 255) throw new RangeError(`a TXT character string holds at most 255 bytes, not ${bytes.length}`);
    rdata.push(bytes.length, ...bytes);
  }
  return rdata;
}

const LOOPBACK: NameAddresses = { v4: LOOPBACK_V4, v6: LOOPBACK_V6 };

/**
 * The answer to `query`: NXDOMAIN, or for an existing name its A / AAAA record (by default 127.0.0.1 / ::1) or its
 * TXT records when given, and NODATA (NOERROR, no answer) for any other type or class. Opcodes other than QUERY
 * get NOTIMP.
 */
export function buildResponse(query: DnsQuery, verdict: DnsVerdict, addresses: NameAddresses = LOOPBACK): Uint8Array {
  if (query.opcode !== 0) return buildErrorResponse(query.id, query.opcode, query.recursionDesired, 'NOTIMP');
  const rcode = verdict === 'nxdomain' ? RCODE.NXDOMAIN : RCODE.NOERROR;
  const answers: number[][] = [];
  if (verdict === 'exists' && query.qclass === CLASS_IN) {
    if (query.qtype === QTYPE.A && addresses.v4?.length === 4) answers.push(resourceRecord(QTYPE.A, addresses.v4));
    if (query.qtype === QTYPE.AAAA && addresses.v6?.length === 16) answers.push(resourceRecord(QTYPE.AAAA, addresses.v6));
    if (query.qtype === QTYPE.TXT) for (const record of addresses.txt ?? []) answers.push(resourceRecord(QTYPE.TXT, txtRdata(record)));
  }
  const flags = responseFlags(query.opcode, query.recursionDesired, rcode);
  return Uint8Array.from([...header(query.id, flags, 1, answers.length), ...question(query), ...answers.flat()]);
}

function buildErrorResponse(id: number, opcode: number, recursionDesired: boolean, rcode: RcodeName): Uint8Array {
  return Uint8Array.from(header(id, responseFlags(opcode, recursionDesired, RCODE[rcode]), 0, 0));
}

/**
 * FORMERR for a packet that did not parse, echoing its id, or `undefined` when no answer is due:
 * shorter than a header (no id to echo) or itself a response (answering could start a loop).
 */
export function buildFormatError(packet: Uint8Array): Uint8Array | undefined {
  if (packet.length < HEADER_BYTES) return undefined;
  const flags = u16(packet, 2);
  if ((flags & 0x8000) !== 0) return undefined;
  return buildErrorResponse(u16(packet, 0), (flags >> 11) & 0x0f, (flags & 0x0100) !== 0, 'FORMERR');
}

/**
 * Wire form of a plain host name (`a.b.c` or `a.b.c.`), no escapes, or `undefined` if it cannot be
 * encoded: an empty label, a label over 63 bytes or a name over 255 bytes.
 */
export function encodeName(name: string): Uint8Array | undefined {
  const text = name.endsWith('.') ? name.slice(0, -1) : name;
  if (text === '') return name === '.' ? Uint8Array.of(0) : undefined;
  const bytes: number[] = [];
  for (const label of text.split('.')) {
    const encoded = Buffer.from(label, 'utf8');
    if (encoded.length === 0 || encoded.length > MAX_LABEL_BYTES) return undefined;
    bytes.push(encoded.length, ...encoded);
  }
  bytes.push(0);
  return bytes.length > MAX_NAME_WIRE_BYTES ? undefined : Uint8Array.from(bytes);
}

/** A standard recursive query for `name` (a client for tests and probes). */
export function buildQuery(id: number, name: string, qtype: number): Uint8Array {
  const encoded = encodeName(name);
  if (encoded === undefined) throw new RangeError(`cannot encode ${JSON.stringify(name)} as a DNS name`);
  return Uint8Array.from([...header(id, 0x0100, 1, 0), ...encoded, qtype >> 8, qtype & 0xff, 0, CLASS_IN]);
}

export interface DnsAnswerSummary {
  readonly id: number;
  readonly rcode: number;
  /** A and AAAA answers as text (`127.0.0.1`, `::1`); other records are skipped. */
  readonly addresses: readonly string[];
}

/** Just enough of a response for tests and probes: id, rcode, and the A/AAAA addresses. */
export function parseResponse(packet: Uint8Array): DnsAnswerSummary | undefined {
  if (packet.length < HEADER_BYTES || (u16(packet, 2) & 0x8000) === 0) return undefined;
  let position = HEADER_BYTES;
  for (let q = 0; q < u16(packet, 4); q += 1) {
    const name = decodeName(packet, position);
    if (!name.ok) return undefined;
    position = name.end + 4;
  }
  const addresses: string[] = [];
  for (let a = 0; a < u16(packet, 6); a += 1) {
    const name = decodeName(packet, position);
    if (!name.ok || name.end + 10 > packet.length) return undefined;
    const type = u16(packet, name.end);
    const length = u16(packet, name.end + 8);
    const rdata = packet.subarray(name.end + 10, name.end + 10 + length);
    if (rdata.length !== length) return undefined;
    if (type === QTYPE.A && length === 4) addresses.push([...rdata].join('.'));
    if (type === QTYPE.AAAA && length === 16) addresses.push(formatIpv6(rdata));
    position = name.end + 10 + length;
  }
  return { id: u16(packet, 0), rcode: u16(packet, 2) & 0x0f, addresses };
}

function formatIpv6(bytes: Uint8Array): string {
  const groups = Array.from({ length: 8 }, (_, i) => u16(bytes, i * 2).toString(16));
  // The WHATWG URL parser writes IPv6 hosts in RFC 5952 form (`::1`).
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
