import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLmtpStream, type StreamItem } from '../../src/lmtp/stream.ts';
import { everySplit, noise } from '../protocol/chunks.ts';

/** Reads `chunks` as a session would: command lines, and a message after each `DATA` line, its parts joined. */
function read(chunks: readonly Buffer[], limits = { maxLineBytes: 16, maxBodyBytes: 64 }): string[] {
  const stream = createLmtpStream(limits);
  const out: string[] = [];
  let body: Buffer[] | undefined;
  let big = false;
  for (const chunk of chunks) {
    stream.push(chunk);
    for (;;) {
      const item: StreamItem | undefined = body ? stream.nextBody() : stream.nextLine();
      if (!item) break;
      if (item.kind === 'line') {
        out.push(`L:${item.line}`);
        if (item.line === 'DATA') body = [];
      } else if (item.kind === 'line-too-long') out.push('TOO-LONG');
      else if (item.kind === 'body-part') body?.push(item.data);
      else if (item.kind === 'body-too-big') big = true;
      else {
        out.push(big ? `BIG:${item.bytes}` : `B:${Buffer.concat([...(body ?? []), item.data]).toString('latin1')}`);
        assert.ok(big || item.bytes === Buffer.concat([...(body ?? []), item.data]).length);
        body = undefined;
        big = false;
      }
    }
  }
  return out;
}

const CASES: readonly { given: string; input: string; expected: string[] }[] = [
  { given: 'pipelined commands', input: 'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n', expected: ['L:MAIL FROM:<a@b>', 'L:RCPT TO:<c@d>', 'L:DATA'] },
  { given: 'a body and the next command after it', input: 'DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n', expected: ['L:DATA', 'B:Subject: x\r\n\r\nhi\r\n', 'L:QUIT'] },
  { given: 'an empty body', input: 'DATA\r\n.\r\nNOOP\r\n', expected: ['L:DATA', 'B:', 'L:NOOP'] },
  { given: 'a dot-stuffed body', input: 'DATA\r\n..hidden\r\na\r\n...\r\n.\r\n', expected: ['L:DATA', 'B:.hidden\r\na\r\n..\r\n'] },
  { given: 'a dot after a bare LF', input: 'DATA\r\na\n.\r\n..\n.\r\n.\r\n', expected: ['L:DATA', 'B:a\n\r\n.\n\r\n'] },
  { given: 'a lone dot line after CR without LF', input: 'DATA\r\na\r.\r\n.\r\n', expected: ['L:DATA', 'B:a\r.\r\n'] },
  { given: 'a dot line that is not the end', input: 'DATA\r\n.\r\r\n.x\r\n.\r\n', expected: ['L:DATA', 'B:\r\r\nx\r\n'] },
  { given: 'a dot inside a line', input: 'DATA\r\na.\r\nb .\r\n.\r\n', expected: ['L:DATA', 'B:a.\r\nb .\r\n'] },
  { given: 'LF-only command lines', input: 'NOOP\nRSET\n', expected: ['L:NOOP', 'L:RSET'] },
  { given: 'an over-long line, then a good one', input: 'NOOP 12345678901234567890\r\nRSET\r\n', expected: ['TOO-LONG', 'L:RSET'] },
  { given: 'a line of exactly the limit', input: '1234567890123456\r\n', expected: ['L:1234567890123456'] },
  {
    given: 'a body over the limit, then a command',
    input: `DATA\r\n${'x'.repeat(100)}\r\n.\r\nQUIT\r\n`,
    expected: ['L:DATA', 'BIG:102', 'L:QUIT'],
  },
  { given: 'a body never terminated', input: 'DATA\r\nhello\r\n', expected: ['L:DATA'] },
];

for (const c of CASES) {
  test(`GIVEN ${c.given} WHEN it arrives in any chunking THEN the items are the same`, () => {
    const input = Buffer.from(c.input, 'latin1');
    for (const chunks of everySplit(input)) assert.deepEqual(read(chunks), c.expected, JSON.stringify(chunks.map((b) => b.toString('latin1'))));
  });
}

test('GIVEN binary noise as a body WHEN read THEN the bytes come back unstuffed, unchanged', () => {
  const message = noise(4000, 7);
  const body = Buffer.from(message.toString('latin1').replace(/^\./, '..').replaceAll('\n.', '\n..'), 'latin1');
  const input = Buffer.concat([Buffer.from('DATA\r\n'), body, Buffer.from('\r\n.\r\n')]);
  const items = read([input.subarray(0, 1000), input.subarray(1000, 3001), input.subarray(3001)], { maxLineBytes: 16, maxBodyBytes: 1 << 20 });
  assert.deepEqual(items, ['L:DATA', `B:${Buffer.concat([message, Buffer.from('\r\n')]).toString('latin1')}`]);
});

test('GIVEN a client flooding one endless line WHEN read THEN memory stays bounded and one error is reported', () => {
  const stream = createLmtpStream({ maxLineBytes: 16, maxBodyBytes: 64 });
  const items: string[] = [];
  for (let i = 0; i < 1000; i++) {
    stream.push(Buffer.alloc(1024, 0x41));
    for (let item = stream.nextLine(); item; item = stream.nextLine()) items.push(item.kind);
    assert.ok(stream.buffered() <= 1024 + 17);
  }
  stream.push(Buffer.from('\r\nNOOP\r\n'));
  for (let item = stream.nextLine(); item; item = stream.nextLine()) items.push(item.kind === 'line' ? item.line : item.kind);
  assert.deepEqual(items, ['line-too-long', 'NOOP']);
});

test('GIVEN a body of exactly the size limit WHEN it is split at any point, its terminator included THEN the whole body comes back, never an empty one', () => {
  const limit = 64;
  const text = `${'y'.repeat(limit - 2)}\r\n`;
  const input = Buffer.from(`DATA\r\n${text}.\r\nNOOP\r\n`, 'latin1');
  for (const chunks of everySplit(input)) assert.deepEqual(read(chunks), ['L:DATA', `B:${text}`, 'L:NOOP'], JSON.stringify(chunks.map((b) => b.toString('latin1'))));
});

test('GIVEN a body one byte over the size limit WHEN its terminator is split at any point THEN it is too big, whatever the split', () => {
  const limit = 64;
  const text = `${'y'.repeat(limit - 1)}\r\n`;
  const input = Buffer.from(`DATA\r\n${text}.\r\nNOOP\r\n`, 'latin1');
  for (const chunks of everySplit(input)) assert.deepEqual(read(chunks), ['L:DATA', `BIG:${limit + 1}`, 'L:NOOP'], JSON.stringify(chunks.map((b) => b.toString('latin1'))));
});

test('GIVEN a message arriving in pieces WHEN read THEN each piece is handed out as it comes, but never a byte that may begin the terminator', () => {
  const stream = createLmtpStream({ maxLineBytes: 16, maxBodyBytes: 1 << 20 });
  stream.push(Buffer.from('DATA\r\nhello\r\n.'));
  assert.deepEqual(stream.nextLine(), { kind: 'line', line: 'DATA' });
  assert.deepEqual(stream.nextBody(), { kind: 'body-part', data: Buffer.from('hello\r\n') });
  assert.equal(stream.nextBody(), undefined);
  assert.equal(stream.buffered(), 1);
  stream.push(Buffer.from('.more\r\n'));
  assert.deepEqual(stream.nextBody(), { kind: 'body-part', data: Buffer.from('.more\r\n') });
  stream.push(Buffer.from('.\r\nNOOP\r\n'));
  assert.deepEqual(stream.nextBody(), { kind: 'body-end', data: Buffer.alloc(0), bytes: 14 });
  assert.deepEqual(stream.nextLine(), { kind: 'line', line: 'NOOP' });
});

test('GIVEN a message past the limit WHEN read THEN it is said at once, once, and the rest is dropped up to its end', () => {
  const stream = createLmtpStream({ maxLineBytes: 16, maxBodyBytes: 10 });
  stream.push(Buffer.from('DATA\r\n12345'));
  assert.deepEqual(stream.nextLine(), { kind: 'line', line: 'DATA' });
  assert.deepEqual(stream.nextBody(), { kind: 'body-part', data: Buffer.from('12345') });
  stream.push(Buffer.from('678901'));
  assert.deepEqual(stream.nextBody(), { kind: 'body-too-big' });
  for (let i = 0; i < 100; i++) {
    stream.push(Buffer.alloc(1000, 0x61));
    assert.equal(stream.nextBody(), undefined);
    assert.equal(stream.buffered(), 0);
  }
  stream.push(Buffer.from('\r\n.\r\n'));
  assert.deepEqual(stream.nextBody(), { kind: 'body-end', data: Buffer.alloc(0), bytes: 100_013 });
});
