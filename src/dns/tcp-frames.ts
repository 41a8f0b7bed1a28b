/**
 * DNS over TCP frames each message with a two-byte length (RFC 1035 §4.2.2). This splits a byte
 * stream into messages and knows nothing else about DNS. Memory stays bounded: a frame is at most
 * 65,535 bytes, so at most one frame plus one length is ever buffered.
 */

export interface FrameReader {
  /** Feeds the next chunk; returns the messages it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[];
  /** Bytes of an incomplete frame still held (0 when the stream ended on a frame boundary). */
  pendingBytes(): number;
}

export function createFrameReader(): FrameReader {
  let pending: Buffer = Buffer.alloc(0);
  return {
    push(chunk) {
      pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
      const frames: Uint8Array[] = [];
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        frames.push(Uint8Array.from(pending.subarray(2, 2 + length)));
        pending = pending.subarray(2 + length);
      }
      return frames;
    },
    pendingBytes: () => pending.length,
  };
}

/** Prefixes a message with its length, ready to write to a TCP stream. */
export function frame(message: Uint8Array): Uint8Array {
  if (message.length > 0xffff) throw new RangeError(`a DNS message over TCP is at most 65535 bytes, got ${message.length}`);
  const framed = new Uint8Array(2 + message.length);
  framed[0] = message.length >> 8;
  framed[1] = message.length & 0xff;
  framed.set(message, 2);
  return framed;
}
