/** Ways to cut a byte stream into chunks, so tests can prove results do not depend on where TCP splits it. */

/** Every cut into two and three chunks (empty chunks included), then one byte at a time. */
export function* everySplit(input: Buffer): Generator<Buffer[]> {
  for (let first = 0; first <= input.length; first += 1) {
    for (let second = first; second <= input.length; second += 1) {
      yield [input.subarray(0, first), input.subarray(first, second), input.subarray(second)];
    }
  }
  yield [...input].map((byte) => Buffer.from([byte]));
}

/** Deterministic pseudo-random bytes (a linear congruential generator), the same for the same seed. */
export function noise(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let index = 0; index < length; index += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}
