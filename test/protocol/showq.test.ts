/** The showq decoder on bytes a Postfix 3.7.11 showq sent (deferred and held messages), cut every way, then on garbage. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ParseResult } from '../../src/protocol/result.ts';
import { createShowqDecoder, type ShowqDecoderOptions, type ShowqMessage } from '../../src/protocol/showq.ts';
import { everySplit, noise } from './chunks.ts';

/** NUL-terminated fields, as showq writes them. */
function fields(...parts: string[]): Buffer {
  return Buffer.from(parts.map((part) => `${part}\0`).join(''), 'latin1');
}

/** A listing as Postfix 3.7 sent it: the greeting, three messages (one with two recipients), the end record. */
const REAL = Buffer.from(
  [
    'protocol', 'mail_queue_list_protocol', '',
    'queue_name', 'deferred', 'queue_id', '05D2943E3C2', 'time', '1796533564', 'size', '271', 'forced_expire', '0',
    'sender', 'root@example.test', 'recipient', 'q@defer.test', 'reason', 'connect to 127.110.0.4[127.110.0.4]:2525: Connection refused',
    'recipient', 'r@defer.test', 'reason', 'connect to 127.110.0.4[127.110.0.4]:2525: Connection refused', '',
    'queue_name', 'hold', 'queue_id', '12DC543E3E3', 'time', '1796533513', 'size', '387', 'forced_expire', '0',
    'sender', 'a@client.test', 'recipient', 'x@ok.test', 'reason', '', '',
    'queue_name', 'deferred', 'queue_id', 'A332A43E47A', 'time', '1796534454', 'size', '264', 'forced_expire', '0',
    'sender', 'root@example.test', 'recipient', 'u@timeout.test', 'reason', 'connect to 127.110.0.11[127.110.0.11]:2525: Connection timed out', '',
    '',
  ].map((field) => `${field}\0`).join(''),
  'latin1',
);

const EXPECTED: ShowqMessage[] = [
  {
    queueName: 'deferred', queueId: '05D2943E3C2', arrivalTime: 1796533564, size: 271, sender: 'root@example.test',
    recipients: ['q@defer.test', 'r@defer.test'], recipientCount: 2, forcedExpire: false,
  },
  { queueName: 'hold', queueId: '12DC543E3E3', arrivalTime: 1796533513, size: 387, sender: 'a@client.test', recipients: ['x@ok.test'], recipientCount: 1, forcedExpire: false },
  {
    queueName: 'deferred', queueId: 'A332A43E47A', arrivalTime: 1796534454, size: 264, sender: 'root@example.test',
    recipients: ['u@timeout.test'], recipientCount: 1, forcedExpire: false,
  },
];

function show(result: ParseResult<ShowqMessage>): ShowqMessage | string {
  return result.ok ? result.value : `!${result.error.code}`;
}

function decode(chunks: readonly Buffer[], options?: ShowqDecoderOptions): { out: (ShowqMessage | string)[]; done: boolean } {
  const decoder = createShowqDecoder(options);
  const out = [...chunks.flatMap((chunk) => decoder.push(chunk)), ...decoder.end()].map(show);
  return { out, done: decoder.done };
}

test('GIVEN a real listing in one chunk WHEN decoded THEN every message comes out and the listing is done', () => {
  assert.deepEqual(decode([REAL]), { out: EXPECTED, done: true });
});

test('GIVEN a real listing WHEN cut at every pair of places and byte by byte THEN the messages are the same', () => {
  // Every two-cut split of 900 bytes is 400,000 decodes; cutting around each field is as telling.
  const cuts = [...REAL.entries()].filter(([, byte]) => byte === 0).flatMap(([at]) => [at - 1, at, at + 1]);
  for (const a of cuts) {
    for (const b of cuts.filter((x) => x >= a)) {
      assert.deepEqual(decode([REAL.subarray(0, a), REAL.subarray(a, b), REAL.subarray(b)]).out, EXPECTED, `cut at ${a} and ${b}`);
    }
  }
  assert.deepEqual(decode([...REAL].map((byte) => Buffer.from([byte]))).out, EXPECTED);
});

test('GIVEN an empty queue (greeting and end record only) WHEN decoded THEN no message and done', () => {
  const empty = fields('protocol', 'mail_queue_list_protocol', '', '');
  for (const chunks of everySplit(empty)) assert.deepEqual(decode(chunks), { out: [], done: true });
});

test('GIVEN a listing cut before its end record WHEN the stream ends THEN the messages so far and one error', () => {
  const cut = REAL.subarray(0, REAL.length - 1);
  assert.deepEqual(decode([cut]), { out: [...EXPECTED, '!PROTOCOL_MALFORMED_REPLY'], done: false });
});

test('GIVEN a listing cut inside a record WHEN the stream ends THEN the complete messages and one error', () => {
  const cut = REAL.subarray(0, REAL.indexOf('x@ok.test'));
  assert.deepEqual(decode([cut]), { out: [EXPECTED[0] as ShowqMessage, '!PROTOCOL_MALFORMED_REPLY'], done: false });
});

test('GIVEN more recipients than kept WHEN decoded THEN the first ones are kept and all are counted', () => {
  const record = ['queue_name', 'active', 'queue_id', 'ABCDEF123', 'time', '1', 'size', '2', 'sender', ''];
  for (let i = 0; i < 5; i++) record.push('recipient', `r${i}@x.test`);
  const bytes = Buffer.from([...record, '', ''].map((f) => `${f}\0`).join(''));
  const [message] = decode([bytes], { maxRecipients: 2 }).out as ShowqMessage[];
  assert.deepEqual({ recipients: message?.recipients, count: message?.recipientCount }, { recipients: ['r0@x.test', 'r1@x.test'], count: 5 });
});

test('GIVEN forced_expire 1 WHEN decoded THEN the message says so', () => {
  const bytes = fields('queue_name', 'deferred', 'queue_id', 'ABCDEF123', 'time', '1', 'size', '2', 'forced_expire', '1', '', '');
  assert.equal((decode([bytes]).out[0] as ShowqMessage).forcedExpire, true);
});

const GARBAGE: readonly { given: string; input: Buffer; options?: ShowqDecoderOptions }[] = [
  { given: 'a field longer than the bound', input: Buffer.from(`queue_name\0${'d'.repeat(100)}\0`), options: { maxFieldBytes: 64 } },
  { given: 'a field without NUL longer than the bound', input: Buffer.from('x'.repeat(100)), options: { maxFieldBytes: 64 } },
  { given: 'a record without size', input: fields('queue_name', 'hold', 'time', '1', '') },
  { given: 'a time that is not a number', input: fields('queue_name', 'hold', 'time', 'yesterday', 'size', '1', '') },
  { given: 'a size with a sign', input: fields('queue_name', 'hold', 'time', '1', 'size', '-1', '') },
  { given: 'a size beyond 2^53', input: fields('queue_name', 'hold', 'time', '1', 'size', '99999999999999999999', '') },
  { given: 'bytes after the end record', input: fields('protocol', 'x', '', '', 'junk') },
  { given: 'the text listing of Postfix 2.x', input: Buffer.from('-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\nA07A81514      5156 Tue Feb 14 13:13:54  MAILER-DAEMON\n') },
];

for (const { given, input, options } of GARBAGE) {
  test(`GIVEN ${given} WHEN decoded THEN exactly one error and nothing after it`, () => {
    const decoder = createShowqDecoder(options);
    const first = [...decoder.push(input), ...decoder.end()].map(show);
    assert.deepEqual(first, ['!PROTOCOL_MALFORMED_REPLY']);
    assert.deepEqual(decoder.push(REAL), []);
  });
}

test('GIVEN binary noise WHEN decoded in chunks THEN it never throws and ends in at most one error', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const bytes = noise(8192, seed);
    const decoder = createShowqDecoder({ maxFieldBytes: 256 });
    const results = [...decoder.push(bytes.subarray(0, 3000)), ...decoder.push(bytes.subarray(3000)), ...decoder.end()];
    assert.ok(results.filter((r) => !r.ok).length <= 1, `seed ${seed}`);
  }
});

test('GIVEN invalid UTF-8 in an address WHEN decoded THEN the message still comes out', () => {
  const bytes = Buffer.concat([fields('queue_name', 'active', 'queue_id', 'ABCDEF123', 'time', '1', 'size', '2', 'sender'), Buffer.from([0xff, 0xc3]), fields('', '', '')]);
  const [message] = decode([bytes]).out as ShowqMessage[];
  assert.equal(message?.queueName, 'active');
});
