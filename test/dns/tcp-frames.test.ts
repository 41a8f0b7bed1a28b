import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFrameReader, frame } from '../../src/dns/tcp-frames.ts';
import { everySplit, noise } from '../protocol/chunks.ts';

function readAll(chunks: readonly Uint8Array[]): { frames: string[]; pending: number } {
  const reader = createFrameReader();
  const frames = chunks.flatMap((chunk) => reader.push(chunk)).map((f) => Buffer.from(f).toString('hex'));
  return { frames, pending: reader.pendingBytes() };
}

test('GIVEN two framed messages WHEN the stream is cut anywhere THEN both come out whole, in order', () => {
  const stream = Buffer.concat([frame(Uint8Array.of(1, 2, 3)), frame(Uint8Array.of(4))]);
  for (const chunks of everySplit(stream)) assert.deepEqual(readAll(chunks), { frames: ['010203', '04'], pending: 0 });
});

const CASES: readonly { given: string; bytes: number[]; frames: string[]; pending: number }[] = [
  { given: 'an empty stream', bytes: [], frames: [], pending: 0 },
  { given: 'a lone length byte', bytes: [0], frames: [], pending: 1 },
  { given: 'a zero-length frame', bytes: [0, 0], frames: [''], pending: 0 },
  { given: 'a length promising more than arrives', bytes: [0xff, 0xff, 1, 2, 3], frames: [], pending: 5 },
  { given: 'a frame followed by half a length', bytes: [0, 1, 0xaa, 0], frames: ['aa'], pending: 1 },
];

for (const c of CASES) {
  test(`GIVEN ${c.given} WHEN read THEN ${c.frames.length} frame(s) and ${c.pending} byte(s) pending`, () => {
    assert.deepEqual(readAll([Uint8Array.from(c.bytes)]), { frames: c.frames, pending: c.pending });
  });
}

test('GIVEN the largest frame (65,535 bytes) WHEN read THEN it comes out whole and nothing more is held', () => {
  const message = noise(0xffff, 7);
  const { frames, pending } = readAll([frame(message)]);
  assert.equal(frames.length, 1);
  assert.equal(frames[0], message.toString('hex'));
  assert.equal(pending, 0);
});

test('GIVEN binary noise WHEN read in small chunks THEN the reader never holds more than one frame and a length', () => {
  const reader = createFrameReader();
  const bytes = noise(300_000, 11);
  for (let offset = 0; offset < bytes.length; offset += 977) {
    reader.push(bytes.subarray(offset, offset + 977));
    assert.ok(reader.pendingBytes() <= 0xffff + 1, `holding ${reader.pendingBytes()} bytes`);
  }
});

test('GIVEN a message over 65,535 bytes WHEN framed THEN it is refused', () => {
  assert.throws(() => frame(new Uint8Array(0x10000)), RangeError);
});
