import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHttpResponse } from '../../src/protocol/http-response.ts';
import { noise } from './chunks.ts';

/** A response as `STATUS body`, an error as `!CODE`: easy to compare in tables. */
function show(bytes: Buffer | string): string {
  const r = parseHttpResponse(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1'));
  return r.ok ? `${r.value.status} ${r.value.body.toString('latin1')}` : `!${r.error.code}`;
}

/** What Dovecot 2.3.19's stats listener sends (head as captured, body cut short). */
const DOVECOT = 'HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2026 05:19:57 GMT\r\nContent-Length: 10\r\nConnection: close\r\n'
  + 'Content-Type: application/openmetrics-text; version=0.0.1; charset=utf-8\r\n\r\nx 1\n# EOF\n';

const CASES: readonly { given: string; bytes: string; expected: string }[] = [
  { given: 'Dovecot\'s answer', bytes: DOVECOT, expected: '200 x 1\n# EOF\n' },
  { given: 'bytes past Content-Length', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabcdef', expected: '200 ab' },
  { given: 'no Content-Length (the end of the connection frames it)', bytes: 'HTTP/1.0 200 OK\r\n\r\nall of it', expected: '200 all of it' },
  { given: 'bare LF line ends', bytes: 'HTTP/1.1 404 Path Not Found\nContent-Length: 3\n\nno\n', expected: '404 no\n' },
  { given: 'a status line without a reason', bytes: 'HTTP/1.1 204\r\n\r\n', expected: '204 ' },
  { given: 'a chunked body with an extension and a trailer', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0A\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n', expected: '200 abc0123456789' },
  { given: 'a chunked body with bare LF', bytes: 'HTTP/1.1 200 OK\nTransfer-Encoding: gzip, chunked\n\n2\nok\n0\n\n', expected: '200 ok' },
  { given: 'an empty input', bytes: '', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a head cut before its end', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a body shorter than its Content-Length', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\nabc', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a chunked body cut short', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a chunked body without its last chunk', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a bad chunk size', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a chunk longer than its size', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a transfer coding other than chunked last', bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a Content-Length that is not a number', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'two Content-Length fields', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nabc', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'HTTP/2', bytes: 'HTTP/2 200\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a status that is not three digits', bytes: 'HTTP/1.1 20 OK\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'something else than HTTP (an SMTP greeting)', bytes: '220 mx ESMTP\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a header line without a colon', bytes: 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a header name with a space', bytes: 'HTTP/1.1 200 OK\r\nContent Length: 1\r\n\r\nx', expected: '!PROTOCOL_MALFORMED_REPLY' },
  { given: 'a control character in the status line', bytes: 'HTTP/1.1 200 O\u0000K\r\n\r\n', expected: '!PROTOCOL_MALFORMED_REPLY' },
];

for (const { given, bytes, expected } of CASES) {
  test(`GIVEN ${given} WHEN the response is parsed THEN ${JSON.stringify(expected)}`, () => {
    assert.equal(show(bytes), expected);
  });
}

test('GIVEN a response WHEN its header fields are read THEN names are lower-cased and a repeated one is joined', () => {
  const r = parseHttpResponse(Buffer.from('HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a:  2 \r\nContent-Type: text/plain\r\n\r\n'));
  assert.ok(r.ok);
  assert.equal(r.value.headers.get('x-a'), '1, 2');
  assert.equal(r.value.headers.get('content-type'), 'text/plain');
});

test('GIVEN a body of invalid UTF-8 and NUL bytes WHEN parsed THEN it comes back byte for byte', () => {
  const body = Buffer.from([0xc3, 0x28, 0x00, 0xff, 0x0a]);
  const r = parseHttpResponse(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
  assert.ok(r.ok);
  assert.deepEqual(r.value.body, body);
});

test('GIVEN binary noise WHEN parsed THEN a malformed-reply error comes back, never an exception', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = parseHttpResponse(noise(64 + seed * 13, seed));
    assert.equal(r.ok ? 'parsed' : r.error.code, 'PROTOCOL_MALFORMED_REPLY', `seed ${seed}`);
  }
});

test('GIVEN a valid head followed by noise WHEN parsed THEN the noise is the body (the caller bounds its size)', () => {
  const junk = noise(4096, 7);
  const r = parseHttpResponse(Buffer.concat([Buffer.from('HTTP/1.1 500 Oops\r\n\r\n'), junk]));
  assert.ok(r.ok);
  assert.equal(r.value.status, 500);
  assert.deepEqual(r.value.body, junk);
});
