import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLineSplitter } from '../../src/protocol/lines.ts';
import {
  createPop3MultilineParser,
  parsePop3Multiline,
  parsePop3Status,
  type Pop3Status,
} from '../../src/protocol/pop3-response.ts';
import { everySplit, noise } from './chunks.ts';

const STATUSES: readonly { given: string; line: string; expected: Pop3Status }[] = [
  { given: 'a greeting', line: '+OK Dovecot ready.', expected: { ok: true, text: 'Dovecot ready.' } },
  { given: 'a bare +OK', line: '+OK', expected: { ok: true, text: '' } },
  { given: 'an error with a response code', line: '-ERR [AUTH] Authentication failed.', expected: { ok: false, text: '[AUTH] Authentication failed.' } },
  { given: 'a bare -ERR', line: '-ERR', expected: { ok: false, text: '' } },
  { given: 'text in invalid UTF-8', line: '+OK \u00ff\u00c3', expected: { ok: true, text: '\u00ff\u00c3' } },
];

for (const { given, line, expected } of STATUSES) {
  test(`GIVEN ${given} WHEN parsed as a status THEN it gives the status`, () => {
    assert.deepEqual(parsePop3Status(line), { ok: true, value: expected });
  });
}

const HOSTILE_STATUSES: readonly { given: string; line: string }[] = [
  { given: 'an empty line', line: '' },
  { given: 'a lower-case indicator', line: '+ok hi' },
  { given: 'an indicator glued to text', line: '+OKAY' },
  { given: 'a missing sign', line: 'OK hi' },
  { given: 'an SMTP banner', line: '220 mx ESMTP' },
  { given: 'binary noise', line: noise(64, 5).toString('latin1') },
];

for (const { given, line } of HOSTILE_STATUSES) {
  test(`GIVEN ${given} WHEN parsed as a status THEN it gives PROTOCOL_MALFORMED_REPLY`, () => {
    const result = parsePop3Status(line);
    assert.equal(result.ok ? 'parsed' : result.error.code, 'PROTOCOL_MALFORMED_REPLY');
  });
}

const BODIES: readonly { given: string; lines: string[]; expected: string[] }[] = [
  { given: 'a CAPA list', lines: ['TOP', 'UIDL', 'SASL PLAIN', '.'], expected: ['TOP', 'UIDL', 'SASL PLAIN'] },
  { given: 'an empty body', lines: ['.'], expected: [] },
  { given: 'a dot-stuffed line', lines: ['..hidden', '.'], expected: ['.hidden'] },
  { given: 'a stuffed lone dot', lines: ['..', '.'], expected: ['.'] },
  { given: 'a line starting with one dot', lines: ['.x', '.'], expected: ['x'] },
  { given: 'empty body lines', lines: ['', '', '.'], expected: ['', ''] },
  { given: 'a dot followed by a space', lines: ['. ', '.'], expected: [' '] },
];

for (const { given, lines, expected } of BODIES) {
  test(`GIVEN ${given} WHEN parsed as a multi-line body THEN it gives the unstuffed lines`, () => {
    assert.deepEqual(parsePop3Multiline(lines), { ok: true, value: expected });
  });
}

const HOSTILE_BODIES: readonly { given: string; lines: string[]; code: string }[] = [
  { given: 'no terminating dot', lines: ['TOP', 'UIDL'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'lines after the terminating dot', lines: ['TOP', '.', 'UIDL'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'more lines than the limit', lines: [...Array(1001).fill('x'), '.'], code: 'PROTOCOL_REPLY_TOO_LONG' },
];

for (const { given, lines, code } of HOSTILE_BODIES) {
  test(`GIVEN ${given} WHEN parsed as a multi-line body THEN it gives ${code}`, () => {
    const result = parsePop3Multiline(lines);
    assert.equal(result.ok ? 'parsed' : result.error.code, code);
  });
}

test('GIVEN a body of exactly the line limit WHEN parsed THEN it is accepted', () => {
  const result = parsePop3Multiline([...Array(1000).fill('x'), '.']);
  assert.equal(result.ok && result.value.length, 1000);
});

test('GIVEN a maxLines option WHEN a longer body arrives THEN the parser refuses it', () => {
  const result = parsePop3Multiline(['a', 'b', 'c', '.'], { maxLines: 2 });
  assert.equal(result.ok ? 'parsed' : result.error.code, 'PROTOCOL_REPLY_TOO_LONG');
});

test('GIVEN two bodies in a row WHEN pushed THEN the parser returns both', () => {
  const parser = createPop3MultilineParser();
  const bodies = ['a', '.', 'b', '.'].map((line) => parser.push(line)).filter((body) => body !== undefined);
  assert.deepEqual(bodies, [
    { ok: true, value: ['a'] },
    { ok: true, value: ['b'] },
  ]);
});

function parseStream(chunks: readonly Buffer[]): unknown[] {
  const splitter = createLineSplitter();
  const lines = chunks.flatMap((chunk) => splitter.push(chunk)).map((line) => (line.ok ? line.value : line.error.code));
  return [parsePop3Status(lines[0] ?? ''), parsePop3Multiline(lines.slice(1))];
}

test('GIVEN a CAPA response WHEN split at every chunk boundary THEN the parsed response is the same', () => {
  const input = Buffer.from('+OK\r\nTOP\r\n..dot\r\n.\r\n');
  const expected = parseStream([input]);
  assert.deepEqual(expected, [
    { ok: true, value: { ok: true, text: '' } },
    { ok: true, value: ['TOP', '.dot'] },
  ]);
  for (const chunks of everySplit(input)) assert.deepEqual(parseStream(chunks), expected);
});
