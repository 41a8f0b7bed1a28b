/** The log line splitter: lines out whatever the chunking, over-long lines cut (not dropped), memory bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogLineSplitter } from '../../src/protocol/log-lines.ts';
import { everySplit, noise } from '../protocol/chunks.ts';

function split(chunks: readonly Buffer[], keepBytes?: number): string[] {
  const lines: string[] = [];
  const splitter = createLogLineSplitter((line) => lines.push(line.toString('latin1')), keepBytes);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

const CASES: readonly { given: string; input: string; keepBytes?: number; expected: string[] }[] = [
  { given: 'LF-terminated lines', input: 'a\nbb\n', expected: ['a', 'bb'] },
  { given: 'CRLF lines (the CR stays for the codec)', input: 'a\r\nb\r\n', expected: ['a\r', 'b\r'] },
  { given: 'empty lines', input: '\n\n', expected: ['', ''] },
  { given: 'a last line without LF', input: 'a\nb', expected: ['a', 'b'] },
  { given: 'a line of exactly the bound', input: '1234\nok\n', keepBytes: 4, expected: ['1234', 'ok'] },
  { given: 'an over-long line', input: '123456789\nok\n', keepBytes: 4, expected: ['1234', 'ok'] },
  { given: 'an over-long last line without LF', input: 'ok\n123456789', keepBytes: 4, expected: ['ok', '1234'] },
];

for (const { given, input, keepBytes, expected } of CASES) {
  test(`GIVEN ${given} WHEN split at every chunk boundary THEN the same lines come out`, () => {
    for (const chunks of everySplit(Buffer.from(input, 'latin1'))) assert.deepEqual(split(chunks, keepBytes), expected);
  });
}

test('GIVEN a 1 MB line in 64 KiB chunks WHEN split THEN one line of the bound comes out and the next line is whole', () => {
  const big = Buffer.concat([Buffer.alloc(1 << 20, 0x61), Buffer.from('\nnext line\n')]);
  const chunks: Buffer[] = [];
  for (let at = 0; at < big.length; at += 65_536) chunks.push(big.subarray(at, at + 65_536));
  const lines = split(chunks, 1000);
  assert.deepEqual(lines.map((l) => l.length), [1000, 9]);
  assert.equal(lines[1], 'next line');
});

test('GIVEN binary noise WHEN split THEN every byte that is not an LF is in a line, and no line exceeds the bound', () => {
  const bytes = noise(100_000, 3);
  const lines = split([bytes.subarray(0, 33_333), bytes.subarray(33_333)], 512);
  const lfs = bytes.filter((b) => b === 0x0a).length;
  assert.equal(lines.length, bytes.at(-1) === 0x0a ? lfs : lfs + 1);
  assert.ok(lines.every((l) => l.length <= 512));
});

test('GIVEN a partial line WHEN reset THEN it is forgotten', () => {
  const lines: string[] = [];
  const splitter = createLogLineSplitter((line) => lines.push(line.toString()));
  splitter.push(Buffer.from('half a li'));
  splitter.reset();
  splitter.push(Buffer.from('whole\n'));
  assert.deepEqual(lines, ['whole']);
});
