/**
 * The byte stream of an LMTP server session, read one item at a time: command lines, or after `354` one
 * message body up to its `CRLF.CRLF`. Knows nothing of commands; the session says which item it wants next,
 * so bytes pipelined after a command are kept for the mode that follows it. Pure: no sockets.
 *
 * Bodies stay dot-stuffed exactly as received (the router forwards them to another LMTP server unchanged)
 * and end with the CRLF before the terminating dot.
 */

export type StreamItem =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'line-too-long' }
  | { readonly kind: 'body'; readonly body: Buffer }
  /** The body ran past the limit: it was read to its end and dropped. */
  | { readonly kind: 'body-too-big'; readonly bytes: number };

export interface LmtpStream {
  push(chunk: Buffer): void;
  /** The next command line, or undefined until one is complete. */
  nextLine(): StreamItem | undefined;
  /** The next message body, or undefined until its terminator arrived. */
  nextBody(): StreamItem | undefined;
  /** Bytes held that no item has taken yet (for flow control). */
  buffered(): number;
}

const LF = 0x0a;
const CR = 0x0d;
const TERMINATOR = Buffer.from('\r\n.\r\n');
/** The DATA command line's CRLF: the terminator may begin there, so an empty body is just `.\r\n`. */
const BODY_START = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

export function createLmtpStream(limits: { maxLineBytes: number; maxBodyBytes: number }): LmtpStream {
  /** Bytes no item has taken yet. Small in command mode; a body is moved out chunk by chunk. */
  let pending: Buffer = EMPTY;
  /** A line over the limit is being skipped up to its LF. */
  let skippingLine = false;
  // The body being read: its chunks, their size, and its last bytes (a terminator may span chunks).
  let parts: Buffer[] = [];
  let bodyBytes = 0;
  let tail: Buffer = BODY_START;

  function addToBody(chunk: Buffer): void {
    bodyBytes += chunk.length;
    // The last bytes taken may turn out to begin the terminator (dropFromBody takes them back), so a body at the
    // limit is only known too big once it is past the limit by more than a terminator.
    if (bodyBytes <= limits.maxBodyBytes + TERMINATOR.length) parts.push(chunk);
    else parts = [];
  }

  /** The terminator began `n` bytes before the chunk in hand: those bytes are not body after all. */
  function dropFromBody(n: number): void {
    bodyBytes -= n;
    let left = n;
    while (left > 0 && parts.length > 0) {
      const last = parts.pop() as Buffer;
      if (last.length > left) parts.push(last.subarray(0, last.length - left));
      left -= Math.min(left, last.length);
    }
  }

  function finishBody(): StreamItem {
    const item: StreamItem = bodyBytes > limits.maxBodyBytes
      ? { kind: 'body-too-big', bytes: bodyBytes }
      : { kind: 'body', body: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts) };
    parts = [];
    bodyBytes = 0;
    tail = BODY_START;
    return item;
  }

  return {
    push(chunk) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    },
    nextLine() {
      for (;;) {
        const lf = pending.indexOf(LF);
        if (lf === -1) {
          if (pending.length <= limits.maxLineBytes + 1) return undefined;
          pending = EMPTY;
          if (skippingLine) return undefined;
          skippingLine = true;
          return { kind: 'line-too-long' };
        }
        const end = lf > 0 && pending[lf - 1] === CR ? lf - 1 : lf;
        const line = pending.toString('latin1', 0, end);
        pending = pending.subarray(lf + 1);
        if (skippingLine) {
          skippingLine = false;
          continue;
        }
        return end > limits.maxLineBytes ? { kind: 'line-too-long' } : { kind: 'line', line };
      }
    },
    nextBody() {
      if (pending.length === 0) return undefined;
      const chunk = pending;
      pending = EMPTY;
      const window = Buffer.concat([tail, chunk]);
      const at = window.indexOf(TERMINATOR);
      if (at === -1) {
        addToBody(chunk);
        tail = Buffer.from(window.subarray(Math.max(0, window.length - (TERMINATOR.length - 1))));
        return undefined;
      }
      // The body ends with the CRLF that begins the terminator.
      const endInChunk = at + 2 - tail.length;
      if (endInChunk >= 0) addToBody(chunk.subarray(0, endInChunk));
      else dropFromBody(-endInChunk);
      pending = chunk.subarray(at + TERMINATOR.length - tail.length);
      return finishBody();
    },
    buffered: () => pending.length,
  };
}
