import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLineSplitter, DEFAULT_MAX_LINE_BYTES, type LineSplitterOptions } from '../../src/protocol/lines.ts';
import type { ParseResult } from '../../src/protocol/result.ts';
import { everySplit, noise } from './chunks.ts';

/** A line as its text, an error as `!CODE`: easy to compare in tables. */
function show(result: ParseResult<string>): string {
  return result.ok ? result.value : `!${result.error.code}`;
}

function splitChunks(chunks: readonly Buffer[], options?: LineSplitterOptions): string[] {
  const splitter = createLineSplitter(options);
  return [...chunks.flatMap((chunk) => splitter.push(chunk)), ...splitter.end()].map(show);
}

const SMALL = { maxLineBytes: 8 };

const CASES: readonly { given: string; input: Buffer; options?: LineSplitterOptions; expected: string[] }[] = [
  { given: 'CRLF-terminated lines', input: Buffer.from('220 hi\r\n250 ok\r\n'), expected: ['220 hi', '250 ok'] },
  { given: 'LF-terminated lines', input: Buffer.from('a\nb\n'), expected: ['a', 'b'] },
  { given: 'mixed terminators', input: Buffer.from('a\r\nb\nc\r\n'), expected: ['a', 'b', 'c'] },
  { given: 'empty lines', input: Buffer.from('\r\n\n'), expected: ['', ''] },
  { given: 'a bare CR inside a line', input: Buffer.from('a\rb\r\n'), expected: ['a\rb'] },
  { given: 'two CRs before LF', input: Buffer.from('a\r\r\n'), expected: ['a\r'] },
  { given: 'invalid UTF-8', input: Buffer.from([0xff, 0xfe, 0xc3, 0x0a]), expected: ['\u00ff\u00fe\u00c3'] },
  { given: 'NUL bytes', input: Buffer.from([0x00, 0x41, 0x00, 0x0d, 0x0a]), expected: ['\u0000A\u0000'] },
  { given: 'a missing final terminator', input: Buffer.from('a\r\nb'), expected: ['a', '!PROTOCOL_LINE_UNTERMINATED'] },
  { given: 'a lone CR at the end', input: Buffer.from('a\r'), expected: ['!PROTOCOL_LINE_UNTERMINATED'] },
  { given: 'a line of exactly the limit', input: Buffer.from('12345678\r\n'), options: SMALL, expected: ['12345678'] },
  { given: 'a line one byte over the limit', input: Buffer.from('123456789\n'), options: SMALL, expected: ['!PROTOCOL_LINE_TOO_LONG'] },
  {
    given: 'an over-long line followed by a short one',
    input: Buffer.from('123456789012345678901234\r\nok\r\n'),
    options: SMALL,
    expected: ['!PROTOCOL_LINE_TOO_LONG', 'ok'],
  },
  {
    given: 'an over-long line cut off by the end of the stream',
    input: Buffer.from('ok\n1234567890123'),
    options: SMALL,
    expected: ['ok', '!PROTOCOL_LINE_TOO_LONG'],
  },
];

for (const { given, input, options, expected } of CASES) {
  test(`GIVEN ${given} WHEN split in one chunk THEN the lines come out`, () => {
    assert.deepEqual(splitChunks([input], options), expected);
  });

  test(`GIVEN ${given} WHEN split at every chunk boundary THEN the lines are the same`, () => {
    for (const chunks of everySplit(input)) assert.deepEqual(splitChunks(chunks, options), expected);
  });
}

test('GIVEN invalid UTF-8 WHEN split THEN the latin1 line gives back the exact bytes', () => {
  const bytes = Buffer.from([0x80, 0xc3, 0x28, 0xf0, 0x9f]);
  const [line] = splitChunks([Buffer.concat([bytes, Buffer.from('\r\n')])]);
  assert.deepEqual(Buffer.from(line ?? '', 'latin1'), bytes);
});

test('GIVEN binary noise WHEN split in random chunks THEN the result equals one-chunk splitting', () => {
  const options = { maxLineBytes: 256 };
  const input = noise(20_000, 7);
  const whole = splitChunks([input], options);
  const chunks: Buffer[] = [];
  for (let start = 0, size = 1; start < input.length; start += size, size = (size * 7) % 97 || 1) {
    chunks.push(input.subarray(start, start + size));
  }
  assert.deepEqual(splitChunks(chunks, options), whole);
});

test('GIVEN binary noise WHEN split THEN it yields both lines and over-long errors, never a throw', () => {
  const results = splitChunks([noise(20_000, 7)], { maxLineBytes: 256 });
  assert.ok(results.some((line) => line === '!PROTOCOL_LINE_TOO_LONG'));
  assert.ok(results.some((line) => !line.startsWith('!')));
});

test('GIVEN an over-long line with no terminator yet WHEN pushed THEN the error comes before any LF arrives', () => {
  const splitter = createLineSplitter(SMALL);
  assert.deepEqual(splitter.push(Buffer.from('123456789')).map(show), ['!PROTOCOL_LINE_TOO_LONG']);
});

test('GIVEN an over-long line arriving in many chunks WHEN split THEN it yields exactly one error', () => {
  const splitter = createLineSplitter(SMALL);
  const results = [...Array(50)].flatMap(() => splitter.push(Buffer.from('xxxxxxxxxx')));
  assert.deepEqual(results.map(show), ['!PROTOCOL_LINE_TOO_LONG']);
});

test('GIVEN no options WHEN a line of the default limit is split THEN it is accepted', () => {
  const line = 'x'.repeat(DEFAULT_MAX_LINE_BYTES);
  assert.deepEqual(splitChunks([Buffer.from(`${line}\r\n`)]), [line]);
});

test('GIVEN no options WHEN a line one byte over the default limit is split THEN it is refused', () => {
  const line = 'x'.repeat(DEFAULT_MAX_LINE_BYTES + 1);
  assert.deepEqual(splitChunks([Buffer.from(`${line}\r\n`)]), ['!PROTOCOL_LINE_TOO_LONG']);
});

test('GIVEN an over-long line WHEN refused THEN the error carries an excerpt of at most 200 characters', () => {
  const [result] = createLineSplitter(SMALL).push(Buffer.from('y'.repeat(1000)));
  assert.equal(result?.ok === false ? result.error.input : undefined, 'y'.repeat(200));
});

test('GIVEN a Uint8Array that is not a Buffer WHEN pushed THEN it is split like a Buffer', () => {
  const splitter = createLineSplitter();
  assert.deepEqual(splitter.push(new TextEncoder().encode('a\r\nb\n')).map(show), ['a', 'b']);
});

test('GIVEN a chunk the caller reuses WHEN its partial line completes later THEN the kept bytes are unchanged', () => {
  const splitter = createLineSplitter();
  const chunk = Buffer.from('abc');
  splitter.push(chunk);
  chunk.fill(0x5a);
  assert.deepEqual(splitter.push(Buffer.from('\n')).map(show), ['abc']);
});
