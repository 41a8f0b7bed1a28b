import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPolicyReplyDecoder, formatPolicyRequest, MAX_POLICY_REPLY_BYTES } from '../../src/protocol/policy-reply.ts';
import { everySplit } from './chunks.ts';

/** What the decoder yields for `bytes` fed in `chunks`: actions, `!CODE` for an error, `…` when it waits for more. */
function decode(chunks: readonly Buffer[]): string[] {
  const decoder = createPolicyReplyDecoder();
  const out: string[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let r = decoder.next(); r !== undefined; r = decoder.next()) out.push(r.ok ? r.value : `!${r.error.code}`);
  }
  if (out.length === 0) out.push('…');
  return out;
}

const CASES: [string, string, string[]][] = [
  ['DUNNO', 'action=DUNNO\n\n', ['DUNNO']],
  ['a refusal with text', 'action=552 5.2.2 Mailbox is full\n\n', ['552 5.2.2 Mailbox is full']],
  ['CRLF line ends', 'action=DUNNO\r\n\r\n', ['DUNNO']],
  ['not complete yet', 'action=DUNNO\n', ['…']],
  ['an empty reply', '\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['another attribute', 'foo=bar\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['two lines', 'action=DUNNO\naction=OK\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['an empty action', 'action=\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['a control character', 'action=DUN\x01NO\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['bytes outside ASCII', 'action=DUNNO \xff\xfe\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['a NUL byte', 'action=\x00\n\n', ['!PROTOCOL_MALFORMED_REPLY']],
  ['an over-long line without end', `action=${'a'.repeat(MAX_POLICY_REPLY_BYTES)}`, ['!PROTOCOL_MALFORMED_REPLY']],
  ['an over-long action', `action=${'a'.repeat(513)}\n\n`, ['!PROTOCOL_MALFORMED_REPLY']],
  ['binary noise', '\x00\xff\x13\x37'.repeat(300), ['!PROTOCOL_MALFORMED_REPLY']],
];

for (const [what, bytes, expected] of CASES) {
  test(`GIVEN ${what} WHEN decoded in one piece or split anywhere THEN ${expected.join(' ')}`, () => {
    const input = Buffer.from(bytes, 'latin1');
    assert.deepEqual(decode([input]), expected);
    if (input.length < 200) for (const chunks of everySplit(input)) assert.deepEqual(decode(chunks), expected, `split ${chunks.map((c) => c.length).join('+')}`);
  });
}

test('GIVEN bytes after a reply in the same read WHEN decoded THEN an error (nothing was asked; the connection holds them when they come later)', () => {
  assert.deepEqual(decode([Buffer.from('action=DUNNO\n\nextra')]), ['!PROTOCOL_MALFORMED_REPLY']);
});

test('GIVEN an error WHEN more bytes come THEN the decoder yields nothing more', () => {
  const decoder = createPolicyReplyDecoder();
  decoder.push(Buffer.from('garbage\n'));
  assert.equal(decoder.next()?.ok, false);
  decoder.push(Buffer.from('action=DUNNO\n\n'));
  assert.equal(decoder.next(), undefined);
});

test('GIVEN one reply after another on one connection WHEN decoded THEN each is yielded in turn', () => {
  const decoder = createPolicyReplyDecoder();
  decoder.push(Buffer.from('action=DUNNO\n\n'));
  assert.deepEqual(decoder.next(), { ok: true, value: 'DUNNO' });
  decoder.push(Buffer.from('action=REJECT full\n\n'));
  assert.deepEqual(decoder.next(), { ok: true, value: 'REJECT full' });
});

test('GIVEN attributes WHEN a request is formatted THEN request= comes first, then each in order, then the empty line', () => {
  assert.equal(formatPolicyRequest({ recipient: 'ü@example.com', size: '10' }).toString('utf8'), 'request=smtpd_access_policy\nrecipient=ü@example.com\nsize=10\n\n');
});

test('GIVEN a value with a line end or NUL WHEN formatted THEN it throws (it would smuggle attributes)', () => {
  for (const value of ['a\nsize=0', 'a\rb', 'a\x00b']) assert.throws(() => formatPolicyRequest({ recipient: value }), RangeError);
  assert.throws(() => formatPolicyRequest({ 'bad name': 'x' }), RangeError);
});
