/**
 * `onread` for a client socket: every read lands in one buffer reused for the life of the connection, past the
 * stream layer. `consume` must copy what it keeps (the line splitter does) before the next read overwrites it.
 */
export function readInto(bytes: number, consume: (chunk: Buffer) => void): { buffer: Buffer; callback: (n: number) => boolean } {
  const buffer = Buffer.allocUnsafe(bytes);
  return {
    buffer,
    callback: (n) => {
      consume(buffer.subarray(0, n));
      return true;
    },
  };
}
