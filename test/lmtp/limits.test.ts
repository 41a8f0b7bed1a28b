import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxBodyBytes, maxSessions } from '../../src/lmtp/limits.ts';
import { createLmtpStream, type StreamItem } from '../../src/lmtp/stream.ts';
import { dottedMessage } from '../support/lmtp-client.ts';

/** The items the stream hands out for DATA and then `wire`, read in 64 KiB reads. */
function readMessage(wire: Buffer, maxBody: number): StreamItem[] {
  const stream = createLmtpStream({ maxLineBytes: 4096, maxBodyBytes: maxBody });
  stream.push(Buffer.from('DATA\r\n'));
  assert.deepEqual(stream.nextLine(), { kind: 'line', line: 'DATA' });
  const items: StreamItem[] = [];
  for (let at = 0; at < wire.length; at += 65536) {
    stream.push(wire.subarray(at, at + 65536));
    for (let item = stream.nextBody(); item; item = stream.nextBody()) items.push(item);
  }
  return items;
}

test('GIVEN the message Postfix counts at exactly message_size_limit that dot-stuffing grows most (every line a lone dot) WHEN it reaches the router THEN the router takes all of it', () => {
  for (const limit of [1_048_576, 3_000_001]) {
    const { message, wire } = dottedMessage(limit, 3);
    const items = readMessage(wire, maxBodyBytes(limit));
    assert.deepEqual(items.filter((i) => i.kind === 'body-too-big'), []);
    const end = items.at(-1);
    assert.equal(end?.kind === 'body-end' ? end.bytes : -1, limit);
    const parts = items.map((i) => (i.kind === 'body-part' || i.kind === 'body-end' ? i.data : Buffer.alloc(0)));
    assert.ok(Buffer.concat(parts).equals(message));
  }
});

test('GIVEN a message past the router\'s limit WHEN it arrives THEN it is too big', () => {
  const { wire } = dottedMessage(maxBodyBytes(1_048_576) + 1, 78);
  assert.deepEqual(readMessage(wire, maxBodyBytes(1_048_576)).filter((i) => i.kind !== 'body-part').map((i) => i.kind), ['body-too-big', 'body-end']);
});

test('GIVEN the proxy pod\'s memory limit WHEN the session cap is derived THEN a quarter of it fits the cap\'s sessions, within sane bounds', () => {
  assert.equal(maxSessions(1024 ** 3), 512);
  assert.equal(maxSessions(256 * 1024 ** 2), 128);
  assert.equal(maxSessions(16 * 1024 ** 2), 16);
  assert.equal(maxSessions(64 * 1024 ** 3), 1024);
});
