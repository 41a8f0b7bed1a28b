import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createImapResponseAssembler, literalLength, type ImapResponseText } from '../../src/protocol/imap-literal.ts';
import { createLineSplitter } from '../../src/protocol/lines.ts';
import type { ParseResult } from '../../src/protocol/result.ts';
import { everySplit, noise } from './chunks.ts';

/** Feeds `wire` (bytes as a server sends them) through the line splitter into an assembler; every response, in order. */
function assemble(wire: string | Buffer, maxLiteralBytes = 1024, chunks?: Buffer[]): ParseResult<ImapResponseText>[] {
  const splitter = createLineSplitter();
  const assembler = createImapResponseAssembler({ maxLiteralBytes });
  const out: ParseResult<ImapResponseText>[] = [];
  const bytes = Buffer.isBuffer(wire) ? wire : Buffer.from(wire, 'latin1');
  for (const chunk of chunks ?? [bytes]) {
    for (const line of splitter.push(chunk)) {
      assert.ok(line.ok, 'the splitter takes every line here');
      const r = assembler.push(line.value);
      if (r !== undefined) out.push(r);
    }
  }
  return out;
}

const MESSAGE = 'Subject: hi\r\nX-Mailfleet-Probe: t1\r\n\r\nbody\r\n';

const CASES: readonly { given: string; wire: string; expected: ImapResponseText[] }[] = [
  { given: 'a line without a literal', wire: '* 3 EXISTS\r\n', expected: [{ text: '* 3 EXISTS', literals: [] }] },
  {
    given: 'a FETCH whose literal ends with the line',
    wire: `* 1 FETCH (UID 7 BODY[] {${MESSAGE.length}}\r\n${MESSAGE})\r\n`,
    expected: [{ text: `* 1 FETCH (UID 7 BODY[] {${MESSAGE.length}})`, literals: [MESSAGE] }],
  },
  {
    given: 'a literal that ends inside a line, the response going on after it',
    wire: '* 1 FETCH (BODY[HEADER] {5}\r\nab\r\nc UID 9)\r\n',
    expected: [{ text: '* 1 FETCH (BODY[HEADER] {5} UID 9)', literals: ['ab\r\nc'] }],
  },
  {
    given: 'an empty literal',
    wire: '* 2 FETCH (BODY[] {0}\r\n UID 4)\r\n',
    expected: [{ text: '* 2 FETCH (BODY[] {0} UID 4)', literals: [''] }],
  },
  {
    given: 'two literals in one response',
    wire: '* 1 FETCH (BODY[1] {3}\r\nabc BODY[2] {2}\r\nxy)\r\n',
    expected: [{ text: '* 1 FETCH (BODY[1] {3} BODY[2] {2})', literals: ['abc', 'xy'] }],
  },
  {
    given: 'a literal holding lines that look like responses',
    wire: '* 1 FETCH (BODY[] {19}\r\na1 OK done\r\n* BYE x)\r\na1 OK fetched\r\n',
    expected: [{ text: '* 1 FETCH (BODY[] {19})', literals: ['a1 OK done\r\n* BYE x'] }, { text: 'a1 OK fetched', literals: [] }],
  },
  {
    given: 'a non-synchronizing literal marker',
    wire: '* 1 FETCH (BODY[] {2+}\r\nok)\r\n',
    expected: [{ text: '* 1 FETCH (BODY[] {2+})', literals: ['ok'] }],
  },
  {
    given: 'bytes of invalid UTF-8 in a literal',
    wire: '* 1 FETCH (BODY[] {4}\r\n\u00ff\u00fe\u00c3\u0028)\r\n',
    expected: [{ text: '* 1 FETCH (BODY[] {4})', literals: ['\u00ff\u00fe\u00c3\u0028'] }],
  },
  {
    given: 'braces that are no literal marker',
    wire: '* OK {not a literal} {12x}\r\n',
    expected: [{ text: '* OK {not a literal} {12x}', literals: [] }],
  },
];

for (const { given, wire, expected } of CASES) {
  test(`GIVEN ${given} WHEN assembled THEN text and literals come out whole`, () => {
    assert.deepEqual(assemble(wire), expected.map((value) => ({ ok: true, value })));
  });
}

test('GIVEN a FETCH cut at every place WHEN assembled THEN the result never depends on the cuts', () => {
  const wire = Buffer.from('* 1 FETCH (BODY[] {9}\r\nab\r\ncd\r\ne UID 2)\r\n', 'latin1');
  const expected = [{ ok: true, value: { text: '* 1 FETCH (BODY[] {9} UID 2)', literals: ['ab\r\ncd\r\ne'] } }];
  for (const chunks of everySplit(wire)) assert.deepEqual(assemble(wire, 1024, chunks), expected);
});

const REFUSED: readonly { given: string; wire: string; max?: number; code: string }[] = [
  { given: 'a literal larger than the bound', wire: '* 1 FETCH (BODY[] {2048}\r\n', code: 'PROTOCOL_REPLY_TOO_LONG' },
  { given: 'literals that together pass the bound', wire: '* 1 FETCH (A {600}\r\n' + 'x'.repeat(598) + '\r\n B {600}\r\n', code: 'PROTOCOL_REPLY_TOO_LONG' },
  { given: 'a literal claiming ten digits of octets', wire: '* 1 FETCH (BODY[] {9999999999}\r\n', code: 'PROTOCOL_REPLY_TOO_LONG' },
  { given: 'a literal that would end between CR and LF', wire: '* 1 FETCH (BODY[] {3}\r\nab\r\n', code: 'PROTOCOL_MALFORMED_REPLY' },
];

for (const { given, wire, max, code } of REFUSED) {
  test(`GIVEN ${given} WHEN assembled THEN it is refused with ${code}`, () => {
    const results = assemble(wire, max ?? 1024);
    assert.equal(results.length, 1);
    assert.equal(results[0]?.ok ? 'assembled' : results[0]?.error.code, code);
  });
}

test('GIVEN more literals than allowed in one response WHEN assembled THEN it is refused and the next response starts afresh', () => {
  const assembler = createImapResponseAssembler({ maxLiteralBytes: 1024, maxLiterals: 2 });
  assert.equal(assembler.push('* 1 FETCH (A {1}'), undefined);
  assert.equal(assembler.push('a B {1}'), undefined);
  const refused = assembler.push('b C {1}');
  assert.equal(refused?.ok ? 'assembled' : refused?.error.code, 'PROTOCOL_REPLY_TOO_LONG');
  assert.deepEqual(assembler.push('a1 OK done'), { ok: true, value: { text: 'a1 OK done', literals: [] } });
});

test('GIVEN endless text after literals WHEN assembled THEN the text bound stops it', () => {
  const assembler = createImapResponseAssembler({ maxLiteralBytes: 1_000_000, maxTextBytes: 100, maxLiterals: 1000 });
  let result: ParseResult<ImapResponseText> | undefined;
  for (let i = 0; i < 100 && result === undefined; i++) result = assembler.push(`${'t'.repeat(20)} {0}`);
  assert.equal(result?.ok ? 'assembled' : result?.error.code, 'PROTOCOL_REPLY_TOO_LONG');
});

test('GIVEN binary noise WHEN assembled THEN every response comes out or is refused, and nothing throws', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const splitter = createLineSplitter({ maxLineBytes: 256 });
    const assembler = createImapResponseAssembler({ maxLiteralBytes: 512 });
    for (const line of splitter.push(Buffer.concat([noise(2000, seed), Buffer.from('{10}\r\n', 'latin1'), noise(500, seed + 1)]))) {
      if (line.ok) assembler.push(line.value);
    }
  }
});

test('GIVEN a response cut short WHEN the stream ends THEN the assembler says it is pending', () => {
  const assembler = createImapResponseAssembler({ maxLiteralBytes: 100 });
  assert.equal(assembler.pending, false);
  assembler.push('* 1 FETCH (BODY[] {10}');
  assert.equal(assembler.pending, true);
  assembler.push('0123456789)');
  assert.equal(assembler.pending, false);
});

test('GIVEN segments WHEN their literal marker is read THEN only a trailing {n} or {n+} counts', () => {
  assert.equal(literalLength('BODY[] {342}'), 342);
  assert.equal(literalLength('{0}'), 0);
  assert.equal(literalLength('X {12+}'), 12);
  assert.equal(literalLength('{12} more'), undefined);
  assert.equal(literalLength('{-1}'), undefined);
  assert.equal(literalLength('{12345678901}'), undefined);
});
