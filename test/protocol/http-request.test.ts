import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHttpRequestLine } from '../../src/protocol/http-request.ts';
import { noise } from './chunks.ts';

/** A request line as `METHOD path version`, an error as `!CODE`: easy to compare in tables. */
function show(line: string): string {
  const r = parseHttpRequestLine(line);
  return r.ok ? `${r.value.method} ${r.value.path} ${r.value.version}` : `!${r.error.code}`;
}

const CASES: readonly { given: string; line: string; expected: string }[] = [
  { given: 'a kubelet probe', line: 'GET /readyz HTTP/1.1', expected: 'GET /readyz 1.1' },
  { given: 'HTTP/1.0', line: 'HEAD /livez HTTP/1.0', expected: 'HEAD /livez 1.0' },
  { given: 'a query', line: 'GET /metrics?name[]=up HTTP/1.1', expected: 'GET /metrics 1.1' },
  { given: 'POST', line: 'POST /drain HTTP/1.1', expected: 'POST /drain 1.1' },
  { given: 'an unusual method (a token)', line: 'PROPFIND / HTTP/1.1', expected: 'PROPFIND / 1.1' },
  { given: 'an empty line', line: '', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'no version (HTTP/0.9)', line: 'GET /readyz', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'HTTP/2 preface', line: 'PRI * HTTP/2.0', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'HTTP/1.2', line: 'GET / HTTP/1.2', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'lower-case protocol name', line: 'GET / http/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'two spaces', line: 'GET  /readyz HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a trailing space', line: 'GET /readyz HTTP/1.1 ', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a tab as separator', line: 'GET\t/readyz HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'an absolute-form target', line: 'GET http://x/readyz HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'an asterisk target', line: 'OPTIONS * HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a control character in the target', line: 'GET /ready\u0000z HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a non-ASCII target (latin1-decoded UTF-8)', line: 'GET /r\u00c3\u00a9 HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a method with a separator', line: 'GE(T / HTTP/1.1', expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'an over-long method', line: `${'A'.repeat(17)} / HTTP/1.1`, expected: '!PROTOCOL_MALFORMED_REQUEST' },
  { given: 'a TLS client hello read as text', line: '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003', expected: '!PROTOCOL_MALFORMED_REQUEST' },
];

for (const { given, line, expected } of CASES) {
  test(`GIVEN ${given} WHEN the request line is parsed THEN ${expected}`, () => {
    assert.equal(show(line), expected);
  });
}

test('GIVEN binary noise WHEN parsed as request lines THEN every one is an error value, none throws', () => {
  for (let seed = 1; seed <= 200; seed += 1) {
    const line = noise(64, seed).toString('latin1');
    const r = parseHttpRequestLine(line);
    assert.equal(r.ok, false, JSON.stringify(line));
  }
});

test('GIVEN an error WHEN reported THEN the offending input is cut to 200 characters', () => {
  const r = parseHttpRequestLine(`GET /${'x'.repeat(10_000)}`);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && (r.error.input?.length ?? 0) <= 200);
});
