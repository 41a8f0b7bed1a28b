import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLineSplitter } from '../../src/protocol/lines.ts';
import type { ParseResult } from '../../src/protocol/result.ts';
import {
  createSmtpReplyParser,
  helloCapabilities,
  parseSmtpReply,
  type SmtpReply,
} from '../../src/protocol/smtp-reply.ts';
import { everySplit, noise } from './chunks.ts';

const REPLIES: readonly { given: string; lines: string[]; expected: SmtpReply }[] = [
  { given: 'a one-line reply', lines: ['250 Ok'], expected: { code: 250, lines: ['Ok'] } },
  { given: 'a bare code', lines: ['221'], expected: { code: 221, lines: [''] } },
  { given: 'a code and a space', lines: ['354 '], expected: { code: 354, lines: [''] } },
  {
    given: 'a multi-line EHLO reply',
    lines: ['250-mx.example.org', '250-PIPELINING', '250-SIZE 10240000', '250 8BITMIME'],
    expected: { code: 250, lines: ['mx.example.org', 'PIPELINING', 'SIZE 10240000', '8BITMIME'] },
  },
  {
    given: 'a postscreen multi-line banner',
    lines: ['220-mx.example.org ESMTP', '220 mx.example.org ESMTP'],
    expected: { code: 220, lines: ['mx.example.org ESMTP', 'mx.example.org ESMTP'] },
  },
  { given: 'an empty continuation line', lines: ['250-', '250 last'], expected: { code: 250, lines: ['', 'last'] } },
  {
    given: 'an enhanced status code',
    lines: ['250 2.1.0 Ok'],
    expected: { code: 250, enhanced: '2.1.0', lines: ['Ok'] },
  },
  {
    given: 'an enhanced code on every line',
    lines: ['550-5.1.1 <a@example.org>: Recipient address rejected:', '550 5.1.1 User unknown'],
    expected: { code: 550, enhanced: '5.1.1', lines: ['<a@example.org>: Recipient address rejected:', 'User unknown'] },
  },
  { given: 'only an enhanced code', lines: ['221 2.0.0'], expected: { code: 221, enhanced: '2.0.0', lines: [''] } },
  {
    given: 'an enhanced code whose class differs from the reply',
    lines: ['250 5.1.1 odd'],
    expected: { code: 250, lines: ['5.1.1 odd'] },
  },
  { given: 'something like an enhanced code', lines: ['250 2.1.0.5 x'], expected: { code: 250, lines: ['2.1.0.5 x'] } },
  { given: 'text in invalid UTF-8', lines: ['220 \u00ff\u00fe'], expected: { code: 220, lines: ['\u00ff\u00fe'] } },
];

for (const { given, lines, expected } of REPLIES) {
  test(`GIVEN ${given} WHEN parsed THEN it gives the reply`, () => {
    assert.deepEqual(parseSmtpReply(lines), { ok: true, value: expected });
  });
}

const HOSTILE: readonly { given: string; lines: string[]; code: string }[] = [
  { given: 'an empty line', lines: [''], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'garbage', lines: ['hello there'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a two-digit code', lines: ['25 ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a four-digit code', lines: ['2500 ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a code outside 2xx-5xx', lines: ['600 ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a 1xx code', lines: ['100 ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a wrong separator', lines: ['250_ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a leading space', lines: [' 250 ok'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a missing code on a continuation', lines: ['250-a', 'b'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'a continuation with another code', lines: ['250-a', '251 b'], code: 'PROTOCOL_REPLY_CODE_MISMATCH' },
  { given: 'a banner continued with 421', lines: ['220-a', '421 b'], code: 'PROTOCOL_REPLY_CODE_MISMATCH' },
  { given: 'binary noise', lines: [noise(64, 3).toString('latin1')], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'no final line', lines: ['250-a', '250-b'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'no lines at all', lines: [], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'lines after the final line', lines: ['250 a', '250 b'], code: 'PROTOCOL_MALFORMED_REPLY' },
  { given: 'more lines than the limit', lines: [...Array(100).fill('250-x'), '250 y'], code: 'PROTOCOL_REPLY_TOO_LONG' },
];

for (const { given, lines, code } of HOSTILE) {
  test(`GIVEN ${given} WHEN parsed THEN it gives ${code}`, () => {
    const result = parseSmtpReply(lines);
    assert.equal(result.ok ? 'parsed' : result.error.code, code);
  });
}

test('GIVEN a reply of exactly the line limit WHEN parsed THEN it is accepted', () => {
  const result = parseSmtpReply([...Array(99).fill('250-x'), '250 y']);
  assert.equal(result.ok && result.value.lines.length, 100);
});

test('GIVEN a maxLines option WHEN a longer reply arrives THEN the parser refuses it', () => {
  const parser = createSmtpReplyParser({ maxLines: 2 });
  const results = ['250-a', '250-b', '250 c'].map((line) => parser.push(line));
  assert.equal(results[2]?.ok === false && results[2].error.code, 'PROTOCOL_REPLY_TOO_LONG');
});

test('GIVEN continuation lines WHEN pushed one by one THEN nothing is returned before the final line', () => {
  const parser = createSmtpReplyParser();
  assert.deepEqual([parser.push('250-a'), parser.push('250-b')], [undefined, undefined]);
});

test('GIVEN two replies in a row WHEN pushed THEN the parser returns both', () => {
  const parser = createSmtpReplyParser();
  const replies = ['250-a', '250 b', '221 bye'].map((line) => parser.push(line)).filter((r) => r !== undefined);
  assert.deepEqual(replies, [
    { ok: true, value: { code: 250, lines: ['a', 'b'] } },
    { ok: true, value: { code: 221, lines: ['bye'] } },
  ]);
});

test('GIVEN a parse error WHEN the next reply is pushed THEN the parser has started afresh', () => {
  const parser = createSmtpReplyParser();
  parser.push('250-a');
  parser.push('251 b');
  assert.deepEqual(parser.push('221 bye'), { ok: true, value: { code: 221, lines: ['bye'] } });
});

test('GIVEN a malformed line WHEN parsed THEN the error carries the line', () => {
  const result = parseSmtpReply(['hello there']);
  assert.equal(result.ok ? undefined : result.error.input, 'hello there');
});

test('GIVEN an EHLO reply WHEN asked for capabilities THEN it gives the lines after the greeting', () => {
  const reply: SmtpReply = { code: 250, lines: ['mx.example.org', 'PIPELINING', 'STARTTLS'] };
  assert.deepEqual(helloCapabilities(reply), ['PIPELINING', 'STARTTLS']);
});

function parseStream(chunks: readonly Buffer[]): ParseResult<SmtpReply>[] {
  const splitter = createLineSplitter();
  const parser = createSmtpReplyParser();
  const replies: ParseResult<SmtpReply>[] = [];
  for (const line of chunks.flatMap((chunk) => splitter.push(chunk))) {
    const reply = line.ok ? parser.push(line.value) : line;
    if (reply !== undefined) replies.push(reply);
  }
  return replies;
}

test('GIVEN a reply stream WHEN split at every chunk boundary THEN the replies are the same', () => {
  const input = Buffer.from('220-mx ESMTP\r\n220 mx\r\n250-mx\r\n250 8BITMIME\n');
  const expected = parseStream([input]);
  assert.equal(expected.length, 2);
  for (const chunks of everySplit(input)) assert.deepEqual(parseStream(chunks), expected);
});
