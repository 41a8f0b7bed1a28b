import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxBodyBytes } from '../../src/lmtp/limits.ts';
import { createLmtpStream } from '../../src/lmtp/stream.ts';
import { dottedMessage } from '../support/lmtp-client.ts';

test('GIVEN the message Postfix counts at exactly message_size_limit that dot-stuffing grows most (every line a lone dot) WHEN it reaches the router THEN the router takes it', () => {
  for (const limit of [1_048_576, 3_000_001]) {
    const { message, wire } = dottedMessage(limit, 3);
    const stream = createLmtpStream({ maxLineBytes: 4096, maxBodyBytes: maxBodyBytes(limit) });
    stream.push(Buffer.concat([Buffer.from('DATA\r\n'), wire]));
    assert.deepEqual(stream.nextLine(), { kind: 'line', line: 'DATA' });
    const body = stream.nextBody();
    assert.equal(body?.kind, 'body', `${limit}: ${JSON.stringify(body?.kind)}`);
    assert.equal(body?.kind === 'body' ? body.body.length : 0, wire.length - 3);
    assert.equal(message.length, limit);
  }
});
