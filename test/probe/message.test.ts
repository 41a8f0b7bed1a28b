import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerValue, notAfterSeconds, PROBE_HEADER, probeMessage, probeTag } from '../../src/probe/message.ts';
import { noise } from '../protocol/chunks.ts';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

test('GIVEN an instance, a path, a time and random hex WHEN tagged THEN the tag names them all and fits a quoted IMAP string', () => {
  assert.equal(probeTag('probe-0', 'msa', NOW, '0a1b2c3d4e5f'), 'probe-0.msa.1767268800000.0a1b2c3d4e5f');
  assert.equal(probeTag('Probe_7d9f!x', 'mta', NOW, 'ff'), 'probe-7d9f-x.mta.1767268800000.ff', 'what a pod name may hold beyond [a-z0-9-] is replaced');
  assert.match(probeTag('', 'mta', 5, 'ab'), /^probe\.mta\.0000000000005\.ab$/);
});

test('GIVEN a tag WHEN the message is composed THEN it carries the tag in its header and subject, CRLF throughout', () => {
  const data = probeMessage({ tag: 't.msa.1.ab', path: 'msa', from: 'probe@example.com', to: 'probe@example.com', now: NOW, hostname: 'probe.example.com' });
  assert.equal(headerValue(data, PROBE_HEADER), 't.msa.1.ab');
  assert.equal(headerValue(data, 'subject'), 'mailfleet probe t.msa.1.ab');
  assert.equal(headerValue(data, 'Message-ID'), '<t.msa.1.ab@probe.example.com>');
  assert.equal(headerValue(data, 'Date'), 'Thu, 01 Jan 2026 12:00:00 GMT');
  assert.ok(!/[^\r]\n/.test(data), 'every line ends in CRLF');
});

const HEADERS: readonly { given: string; raw: string; name: string; expected: string | undefined }[] = [
  { given: 'a header in another case', raw: 'x-mailfleet-probe:  abc \r\n\r\nbody', name: PROBE_HEADER, expected: 'abc' },
  { given: 'a folded header', raw: 'Subject: a\r\n  b\r\n\tc\r\nX: y\r\n\r\n', name: 'Subject', expected: 'a b c' },
  { given: 'LF line ends', raw: 'A: 1\nX-Mailfleet-Probe: lf\n\nX-Mailfleet-Probe: body', name: PROBE_HEADER, expected: 'lf' },
  { given: 'the header only in the body', raw: 'A: 1\r\n\r\nX-Mailfleet-Probe: quoted', name: PROBE_HEADER, expected: undefined },
  { given: 'the header twice', raw: 'X-Mailfleet-Probe: first\r\nX-Mailfleet-Probe: second\r\n\r\n', name: PROBE_HEADER, expected: 'first' },
  { given: 'a header cut off without its blank line', raw: 'X-Mailfleet-Probe: cut', name: PROBE_HEADER, expected: 'cut' },
  { given: 'a name that is only a prefix', raw: 'X-Mailfleet-Probe-Extra: no\r\n\r\n', name: PROBE_HEADER, expected: undefined },
  { given: 'a line without a colon', raw: 'garbage line\r\nX-Mailfleet-Probe: ok\r\n\r\n', name: PROBE_HEADER, expected: 'ok' },
  { given: 'invalid UTF-8 in a value', raw: 'X-Mailfleet-Probe: \u00ff\u00fe\r\n\r\n', name: PROBE_HEADER, expected: '\u00ff\u00fe' },
  { given: 'an empty message', raw: '', name: PROBE_HEADER, expected: undefined },
];

for (const { given, raw, name, expected } of HEADERS) {
  test(`GIVEN ${given} WHEN the header is read THEN it gives ${JSON.stringify(expected)}`, () => {
    assert.equal(headerValue(raw, name), expected);
  });
}

test('GIVEN an over-long header section WHEN a header past its first 64 KiB is asked for THEN it is not found', () => {
  const raw = `A: ${'x'.repeat(70_000)}\r\nX-Mailfleet-Probe: late\r\n\r\n`;
  assert.equal(headerValue(raw, PROBE_HEADER), undefined);
});

test('GIVEN binary noise WHEN a header is read THEN nothing throws and no tag is invented', () => {
  for (let seed = 1; seed <= 100; seed++) assert.notEqual(headerValue(noise(4096, seed).toString('latin1'), PROBE_HEADER), 'probe-0.msa.1.ab');
});

test('GIVEN a notAfter as Node prints it WHEN converted THEN it gives Unix seconds; garbage gives undefined', () => {
  assert.equal(notAfterSeconds('Mar  1 12:00:00 2026 GMT'), Date.UTC(2026, 2, 1, 12) / 1000);
  assert.equal(notAfterSeconds('Dec 31 23:59:59 2030 GMT'), Date.UTC(2030, 11, 31, 23, 59, 59) / 1000);
  assert.equal(notAfterSeconds('not a date'), undefined);
  assert.equal(notAfterSeconds(''), undefined);
});
