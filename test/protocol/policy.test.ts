import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createPolicyDecoder,
  decodePolicyRequests,
  formatPolicyReply,
  type PolicyDecoderOptions,
  type PolicyRequest,
} from '../../src/protocol/policy.ts';
import type { ParseResult } from '../../src/protocol/result.ts';
import { everySplit, noise } from './chunks.ts';

/** A request as `state:attribute=value,...` of the attributes named in `show`; an error as `!CODE`. */
function show(result: ParseResult<PolicyRequest>): string {
  if (!result.ok) return `!${result.error.code}`;
  const a = result.value.attributes;
  const fields = Object.entries(a).filter(([k]) => k !== 'request').map(([k, v]) => `${k}=${v}`);
  return fields.join(',') + (result.value.unknownAttributes > 0 ? `+${result.value.unknownAttributes}?` : '');
}

function decodeChunks(chunks: readonly Buffer[], options?: PolicyDecoderOptions): string[] {
  const decoder = createPolicyDecoder(options);
  const out: string[] = [];
  for (const chunk of chunks) {
    // A copy: the decoder keeps what it is given, and everySplit hands out views of one buffer.
    decoder.push(Buffer.from(chunk));
    for (let item = decoder.next(); item !== undefined; item = decoder.next()) out.push(show(item));
  }
  const cut = decoder.end();
  if (cut) out.push(`!${cut.code}`);
  return out;
}

const REQ = 'request=smtpd_access_policy\n';
const SMALL: PolicyDecoderOptions = { maxLineBytes: 40, maxAttributes: 4, maxRequestBytes: 120 };

const CASES: readonly { given: string; input: Buffer; options?: PolicyDecoderOptions; expected: string[] }[] = [
  {
    given: 'one request',
    input: Buffer.from(`${REQ}protocol_state=RCPT\nclient_address=192.0.2.1\n\n`),
    expected: ['protocol_state=RCPT,client_address=192.0.2.1'],
  },
  {
    given: 'two pipelined requests',
    input: Buffer.from(`${REQ}sender=a@example.org\n\n${REQ}sender=\n\n`),
    expected: ['sender=a@example.org', 'sender='],
  },
  { given: 'CRLF terminators', input: Buffer.from(`request=smtpd_access_policy\r\nsize=10\r\n\r\n`), expected: ['size=10'] },
  { given: 'a value holding =', input: Buffer.from(`${REQ}ccert_subject=CN=a,O=b\n\n`), expected: ['ccert_subject=CN=a,O=b'] },
  { given: 'unknown attributes', input: Buffer.from(`${REQ}future_thing=1\nx.y-z=2\nsender=s@x.org\n\n`), expected: ['sender=s@x.org+2?'] },
  { given: 'UTF-8 values', input: Buffer.from(`${REQ}sender=jörg@bücher.de\n\n`), expected: ['sender=jörg@bücher.de'] },
  { given: 'invalid UTF-8 in a value', input: Buffer.concat([Buffer.from(`${REQ}sender=`), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('\n\n')]), expected: ['sender=\ufffd\ufffd('] },
  { given: 'a request without request=', input: Buffer.from('sender=a@b.org\n\n'), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'another request type', input: Buffer.from('request=junk\n\n'), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'an empty request', input: Buffer.from('\n'), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a line without =', input: Buffer.from(`${REQ}HELO there\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'an empty name', input: Buffer.from(`${REQ}=x\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a name with a space', input: Buffer.from(`${REQ}send er=x\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a name of 65 bytes', input: Buffer.from(`${REQ}${'n'.repeat(65)}=x\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a NUL in a value', input: Buffer.from(`${REQ}sender=a\u0000b\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'an attribute given twice', input: Buffer.from(`${REQ}sender=a\nsender=b\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a size that is not a number', input: Buffer.from(`${REQ}size=12k\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  { given: 'a negative recipient_count', input: Buffer.from(`${REQ}recipient_count=-1\n\n`), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
  {
    given: 'a good request, then garbage: the good one is answered, nothing after the error',
    input: Buffer.from(`${REQ}sender=a\n\nno equals\n${REQ}sender=b\n\n`),
    expected: ['sender=a', '!PROTOCOL_MALFORMED_REQUEST'],
  },
  { given: 'a stream cut inside a line', input: Buffer.from(`${REQ}sender=a`), expected: ['!PROTOCOL_LINE_UNTERMINATED'] },
  { given: 'a stream cut before the empty line', input: Buffer.from(`${REQ}sender=a\n`), expected: ['!PROTOCOL_LINE_UNTERMINATED'] },
  { given: 'a line of exactly the limit', input: Buffer.from(`${REQ.slice(0, -1)}\nsender=${'x'.repeat(33)}\n\n`), options: SMALL, expected: [`sender=${'x'.repeat(33)}`] },
  { given: 'a line one byte over the limit', input: Buffer.from(`${REQ}sender=${'x'.repeat(34)}\n\n`), options: SMALL, expected: ['!PROTOCOL_LINE_TOO_LONG'] },
  { given: 'an over-long line never terminated', input: Buffer.from(`${REQ}sender=${'x'.repeat(100)}`), options: SMALL, expected: ['!PROTOCOL_LINE_TOO_LONG'] },
  { given: 'one attribute over the count', input: Buffer.from(`${REQ}a=1\nb=2\nc=3\nd=4\n\n`), options: SMALL, expected: ['!PROTOCOL_REQUEST_TOO_LARGE'] },
  { given: 'a request over the byte bound', input: Buffer.from(`${REQ}a=${'1'.repeat(30)}\nb=${'2'.repeat(30)}\nc=${'3'.repeat(30)}\n\n`), options: SMALL, expected: ['!PROTOCOL_REQUEST_TOO_LARGE'] },
  { given: 'binary noise', input: Buffer.concat([noise(300, 7), Buffer.from('\n\n')]), expected: ['!PROTOCOL_MALFORMED_REQUEST'] },
];

for (const { given, input, options, expected } of CASES) {
  test(`GIVEN ${given} WHEN decoded in one chunk THEN ${expected.join(' ')}`, () => {
    assert.deepEqual(decodeChunks([input], options), expected);
  });
  if (input.length <= 120) {
    test(`GIVEN ${given} WHEN decoded at every chunk boundary THEN the result is the same`, () => {
      for (const chunks of everySplit(input)) assert.deepEqual(decodeChunks(chunks, options), expected);
    });
  }
}

test('GIVEN thousands of attributes WHEN decoded THEN it stops at the bound without holding them', () => {
  const flood = Buffer.from(REQ + 'x=1\n'.repeat(5000) + '\n');
  const [first, ...rest] = decodePolicyRequests(flood);
  assert.equal(first?.ok, false);
  assert.equal(first.ok ? '' : first.error.code, 'PROTOCOL_REQUEST_TOO_LARGE');
  assert.deepEqual(rest, []);
});

test('GIVEN a megabyte without a line end, fed in small chunks WHEN decoded THEN the decoder never holds more than a line', () => {
  const decoder = createPolicyDecoder();
  let error: string | undefined;
  for (let i = 0; i < 1024 && error === undefined; i++) {
    decoder.push(Buffer.alloc(1024, 0x61));
    const item = decoder.next();
    if (item && !item.ok) error = item.error.code;
    assert.ok(decoder.buffered() <= 4096 + 1024, `holds ${decoder.buffered()} bytes`);
  }
  assert.equal(error, 'PROTOCOL_LINE_TOO_LONG');
});

test('GIVEN random noise of many seeds WHEN decoded THEN it never throws and ends in at most one error', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const results = decodePolicyRequests(noise(2048, seed), SMALL);
    const errors = results.filter((r) => !r.ok);
    assert.ok(errors.length <= 1, `seed ${seed}: ${errors.length} errors`);
    if (errors.length === 1) assert.equal(results.at(-1)?.ok, false, `seed ${seed}: the error is last`);
  }
});

test('GIVEN a request WHEN decoded THEN its size on the wire is reported', () => {
  const text = `${REQ}sender=a\n\n`;
  const [result] = decodePolicyRequests(Buffer.from(text));
  assert.equal(result?.ok ? result.value.bytes : -1, Buffer.byteLength(text));
});

test('GIVEN requests fed one at a time WHEN part of one has arrived THEN inRequest says so', () => {
  const decoder = createPolicyDecoder();
  assert.equal(decoder.inRequest(), false);
  decoder.push(Buffer.from(`${REQ}sen`));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.inRequest(), true);
  decoder.push(Buffer.from('der=a\n\n'));
  assert.equal(decoder.next()?.ok, true);
  assert.equal(decoder.inRequest(), false);
  assert.equal(decoder.end(), undefined);
});

test('GIVEN two requests and the start of a third in one push WHEN two are decoded THEN the decoder says it still keeps the whole push', () => {
  const decoder = createPolicyDecoder();
  const first = `${REQ}sender=a\n\n${REQ}sender=b\n\n`;
  decoder.push(Buffer.from(`${first}${REQ}sen`));
  assert.equal(decoder.next()?.ok, true);
  assert.equal(decoder.next()?.ok, true);
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.buffered(), 3, 'the lines of the third request are consumed as they come');
  assert.equal(decoder.retained(), first.length + REQ.length + 3, 'what was decoded shares one string with the rest');
  decoder.push(Buffer.from('der=c\n\n'));
  assert.equal(decoder.next()?.ok, true);
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.retained(), 0, 'all consumed: nothing kept');
});

test('GIVEN a request whose values came in an earlier push WHEN the rest arrives THEN they are whole, ASCII and UTF-8 alike', () => {
  const decoder = createPolicyDecoder();
  decoder.push(Buffer.from(`${REQ}sender=a-long-sender-address@example.org\nrecipient=r\u00e9ception@example.org\nhelo_na`));
  assert.equal(decoder.next(), undefined);
  decoder.push(Buffer.from('me=mx.example.org\n\n'));
  const item = decoder.next();
  assert.deepEqual(item?.ok ? item.value.attributes : undefined, {
    request: 'smtpd_access_policy',
    sender: 'a-long-sender-address@example.org',
    recipient: 'r\u00e9ception@example.org',
    helo_name: 'mx.example.org',
  });
});

test('GIVEN bytes held and a request in progress WHEN discarded THEN nothing is kept and nothing more decoded', () => {
  const decoder = createPolicyDecoder();
  decoder.push(Buffer.from(`${REQ}sender=a\n`));
  assert.equal(decoder.next(), undefined);
  decoder.discard();
  assert.equal(decoder.retained(), 0);
  decoder.push(Buffer.from('\n'));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.end(), undefined);
});

test('GIVEN an action WHEN a reply is formatted THEN it is one action line and an empty line', () => {
  assert.equal(formatPolicyReply('DUNNO'), 'action=DUNNO\n\n');
  assert.equal(formatPolicyReply('DEFER_IF_PERMIT 4.7.1 rate limit exceeded'), 'action=DEFER_IF_PERMIT 4.7.1 rate limit exceeded\n\n');
});

test('GIVEN an action holding a line break WHEN a reply is formatted THEN it throws rather than break the framing', () => {
  assert.throws(() => formatPolicyReply('DUNNO\n\naction=OK'), RangeError);
  assert.throws(() => formatPolicyReply(''), RangeError);
});
