import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFormatError, buildQuery, buildResponse, encodeName, parseQuery, parseResponse, QTYPE, qtypeName, RCODE, type DnsQuery } from '../../src/dns/wire.ts';
import { noise } from '../protocol/chunks.ts';

const HEADER = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];

function packet(...bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes);
}

function label(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'latin1')];
}

function parsedQuery(bytes: Uint8Array): DnsQuery {
  const result = parseQuery(bytes);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.query;
}

test('GIVEN a query built for a name WHEN parsed THEN id, name, type and RD come back', () => {
  const query = parsedQuery(buildQuery(0xbeef, 'mx.example.co.jp', QTYPE.AAAA));
  assert.equal(query.id, 0xbeef);
  assert.equal(query.name, 'mx.example.co.jp.');
  assert.equal(query.qtype, QTYPE.AAAA);
  assert.equal(query.qclass, 1);
  assert.equal(query.recursionDesired, true);
  assert.equal(query.opcode, 0);
});

const GOOD: readonly { given: string; bytes: Uint8Array; name: string; type: string }[] = [
  { given: 'the root name', bytes: packet(...HEADER, 0, 0, 1, 0, 1), name: '.', type: 'A' },
  { given: 'a 63-byte label', bytes: packet(...HEADER, ...label('a'.repeat(63)), 0, 0, 28, 0, 1), name: `${'a'.repeat(63)}.`, type: 'AAAA' },
  { given: 'a label with a dot, a backslash and a space', bytes: packet(...HEADER, ...label('a.b\\c d'), 0, 0, 15, 0, 1), name: 'a\\.b\\\\c\\032d.', type: 'MX' },
  { given: 'binary bytes in a label', bytes: packet(...HEADER, 2, 0x00, 0xff, 0, 0, 99, 0, 1), name: '\\000\\255.', type: 'TYPE99' },
  {
    given: 'a trailing EDNS OPT record',
    bytes: packet(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, ...label('mx'), 0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0),
    name: 'mx.',
    type: 'A',
  },
  {
    given: 'a name of exactly 255 wire bytes',
    bytes: packet(...HEADER, ...label('a'.repeat(63)), ...label('b'.repeat(63)), ...label('c'.repeat(63)), ...label('d'.repeat(61)), 0, 0, 1, 0, 1),
    name: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`,
    type: 'A',
  },
];

for (const c of GOOD) {
  test(`GIVEN a query with ${c.given} WHEN parsed THEN its name and type are in presentation form`, () => {
    const query = parsedQuery(c.bytes);
    assert.equal(query.name, c.name);
    assert.equal(qtypeName(query.qtype), c.type);
  });
}

// A query for "x." whose question starts at 12; offset 12 holds label "x".
const HOSTILE: readonly { given: string; bytes: Uint8Array; reason: RegExp }[] = [
  { given: 'an empty packet', bytes: packet(), reason: /header needs 12 bytes, got 0/ },
  { given: 'a header cut at 11 bytes', bytes: packet(...HEADER.slice(0, 11)), reason: /header needs 12 bytes/ },
  { given: 'a response (QR set)', bytes: packet(0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1), reason: /a response/ },
  { given: 'no question', bytes: packet(0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0), reason: /expected 1 question, got 0/ },
  { given: 'two questions', bytes: packet(0, 1, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1), reason: /expected 1 question, got 2/ },
  { given: 'a question with no name byte', bytes: packet(...HEADER), reason: /name runs past the end/ },
  { given: 'a label longer than the packet', bytes: packet(...HEADER, 10, 0x61, 0x62), reason: /label runs past the end/ },
  { given: 'a name without its root label', bytes: packet(...HEADER, ...label('mx')), reason: /name runs past the end/ },
  { given: 'type and class cut off', bytes: packet(...HEADER, ...label('mx'), 0, 0, 1, 0), reason: /type and class cut off/ },
  { given: 'an over-long label (length byte 64, type 0x40)', bytes: packet(...HEADER, 64, ...new Array<number>(64).fill(0x61), 0, 0, 1, 0, 1), reason: /label type 0x40/ },
  { given: 'a length byte 0x80', bytes: packet(...HEADER, 0x80, 0, 0, 1, 0, 1), reason: /label type 0x80/ },
  {
    given: 'a name of 256 wire bytes',
    bytes: packet(...HEADER, ...label('a'.repeat(63)), ...label('b'.repeat(63)), ...label('c'.repeat(63)), ...label('d'.repeat(62)), 0, 0, 1, 0, 1),
    reason: /longer than 255 bytes/,
  },
  { given: 'a pointer to itself', bytes: packet(...HEADER, 0xc0, 12, 0, 1, 0, 1), reason: /earlier name/ },
  { given: 'a pointer forward', bytes: packet(...HEADER, 0xc0, 14, 0, 0, 1, 0, 1), reason: /earlier name/ },
  { given: 'a compression loop (label, then a pointer back to it)', bytes: packet(...HEADER, ...label('a'), 0xc0, 12, 0, 1, 0, 1), reason: /earlier name/ },
  { given: 'a pointer cut off after one byte', bytes: packet(...HEADER, ...label('a'), 0xc0), reason: /pointer cut off/ },
  { given: 'a chain of pointers into the header that loops', bytes: packet(0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0xc0, 10, 0xc0, 10, 0, 1, 0, 1), reason: /earlier name/ },
];

for (const c of HOSTILE) {
  test(`GIVEN ${c.given} WHEN parsed THEN it is rejected with a reason, not thrown`, () => {
    const result = parseQuery(c.bytes);
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.reason, c.reason);
  });
}

test('GIVEN 2,000 packets of random bytes WHEN parsed THEN none throws', () => {
  for (let seed = 1; seed <= 2000; seed += 1) {
    const bytes = noise(seed % 80, seed);
    assert.doesNotThrow(() => parseQuery(bytes));
    assert.doesNotThrow(() => buildFormatError(bytes));
  }
});

test('GIVEN a query for an existing name WHEN answered THEN A is 127.0.0.1, AAAA is ::1 and MX is NODATA', () => {
  const answers = [QTYPE.A, QTYPE.AAAA, QTYPE.MX].map((qtype) => parseResponse(buildResponse(parsedQuery(buildQuery(9, 'Mx.Example.', qtype)), 'exists')));
  assert.deepEqual(answers, [
    { id: 9, rcode: RCODE.NOERROR, addresses: ['127.0.0.1'] },
    { id: 9, rcode: RCODE.NOERROR, addresses: ['::1'] },
    { id: 9, rcode: RCODE.NOERROR, addresses: [] },
  ]);
});

test('GIVEN addresses for an existing name WHEN answered THEN A carries the given address and a family left out is NODATA', () => {
  const addresses = { v4: [127, 100, 0, 2] };
  const answers = [QTYPE.A, QTYPE.AAAA].map((qtype) => parseResponse(buildResponse(parsedQuery(buildQuery(4, 'acme.example.', qtype)), 'exists', addresses)));
  assert.deepEqual(answers, [
    { id: 4, rcode: RCODE.NOERROR, addresses: ['127.100.0.2'] },
    { id: 4, rcode: RCODE.NOERROR, addresses: [] },
  ]);
});

/** The TXT answers of a response to one question: each record's character strings (the question skipped). */
function txtAnswers(response: Uint8Array): string[][] {
  const view = Buffer.from(response);
  let at = 12;
  while (view[at] !== 0) at += 1 + (view[at] ?? 0);
  at += 5;
  const records: string[][] = [];
  for (let n = 0; n < view.readUInt16BE(6); n++) {
    assert.equal(view.readUInt16BE(at), 0xc00c, 'the owner is a pointer to the question');
    assert.equal(view.readUInt16BE(at + 2), QTYPE.TXT);
    const length = view.readUInt16BE(at + 10);
    const end = at + 12 + length;
    const strings: string[] = [];
    for (let p = at + 12; p < end; p += 1 + (view[p] ?? 0)) strings.push(view.subarray(p + 1, p + 1 + (view[p] ?? 0)).toString('latin1'));
    records.push(strings);
    at = end;
  }
  assert.equal(at, view.length, 'nothing after the answers');
  return records;
}

test('GIVEN TXT records for an existing name WHEN TXT is asked THEN each comes back with its strings (RDATA over 255 bytes included), and A is NODATA', () => {
  const long = ['a'.repeat(255), 'b'.repeat(100)];
  const txt = [long, ['v=spf1 -all']];
  const response = buildResponse(parsedQuery(buildQuery(7, 'mf1._domainkey.example.com', QTYPE.TXT)), 'exists', { txt });
  assert.deepEqual(txtAnswers(response), txt);
  assert.deepEqual(parseResponse(buildResponse(parsedQuery(buildQuery(8, 'mf1._domainkey.example.com', QTYPE.A)), 'exists', { txt })), { id: 8, rcode: RCODE.NOERROR, addresses: [] });
});

test('GIVEN a TXT string over 255 bytes WHEN a response is built THEN it is refused, not cut', () => {
  const query = parsedQuery(buildQuery(9, 'x.example', QTYPE.TXT));
  assert.throws(() => buildResponse(query, 'exists', { txt: [['c'.repeat(256)]] }), RangeError);
});

test('GIVEN a query WHEN answered NXDOMAIN THEN the response echoes id, RD and the question with no answer', () => {
  const query = buildQuery(0x0102, 'mx.example.co.jp.svc.cluster.local', QTYPE.A);
  const response = buildResponse(parsedQuery(query), 'nxdomain');
  assert.deepEqual(parseResponse(response), { id: 0x0102, rcode: RCODE.NXDOMAIN, addresses: [] });
  assert.equal(response[2], 0x85, 'QR, AA and RD set');
  assert.equal(response[3], 0x83, 'RA set, rcode NXDOMAIN');
  assert.deepEqual(response.subarray(12), query.subarray(12), 'the question is echoed byte for byte');
});

test('GIVEN a question compressed with a backward pointer WHEN parsed and answered THEN the name is expanded and echoed uncompressed', () => {
  // The header's last three bytes (NSCOUNT low, ARCOUNT) happen to read as the name "a.": 1, 'a', 0.
  const compressedAtHeader = packet(0, 3, 1, 0, 0, 1, 0, 0, 0, 1, 0x61, 0, ...label('mx'), 0xc0, 9, 0, 1, 0, 1);
  const query = parsedQuery(compressedAtHeader);
  assert.equal(query.name, 'mx.a.');
  const response = buildResponse(query, 'nxdomain');
  assert.deepEqual([...response.subarray(12)], [...label('mx'), ...label('a'), 0, 0, 1, 0, 1]);
});

test('GIVEN an IQUERY (opcode 1) WHEN answered THEN the rcode is NOTIMP', () => {
  const bytes = buildQuery(5, 'mx', QTYPE.A);
  bytes[2] = 0x09;
  assert.equal(parseResponse(buildResponse(parsedQuery(bytes), 'exists'))?.rcode, RCODE.NOTIMP);
});

test('GIVEN an unparseable query with a header WHEN a format error is built THEN it echoes the id with FORMERR', () => {
  const reply = buildFormatError(packet(0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12));
  assert.deepEqual(reply === undefined ? undefined : parseResponse(reply), { id: 0xabcd, rcode: RCODE.FORMERR, addresses: [] });
});

test('GIVEN a packet shorter than a header or a response WHEN a format error is built THEN nothing is sent', () => {
  assert.equal(buildFormatError(packet(1, 2, 3)), undefined);
  assert.equal(buildFormatError(packet(0, 1, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0)), undefined);
});

const ENCODE: readonly { given: string; name: string; ok: boolean }[] = [
  { given: 'a plain name', name: 'mx.example.co.jp', ok: true },
  { given: 'an absolute name', name: 'mx.example.co.jp.', ok: true },
  { given: 'the root', name: '.', ok: true },
  { given: 'an empty label', name: 'mx..jp', ok: false },
  { given: 'an empty name', name: '', ok: false },
  { given: 'a 64-byte label', name: `${'a'.repeat(64)}.jp`, ok: false },
  { given: 'a name of 256 wire bytes', name: ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)].join('.'), ok: false },
  { given: 'a name of 255 wire bytes', name: ['a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.'), ok: true },
];

for (const c of ENCODE) {
  test(`GIVEN ${c.given} WHEN encoded THEN it is ${c.ok ? 'encodable' : 'refused'}`, () => {
    assert.equal(encodeName(c.name) !== undefined, c.ok);
  });
}
