/**
 * The byte stream of an LMTP server session, read one item at a time: command lines, or after `354` one
 * message in parts as it arrives, up to its `CRLF.CRLF`. Knows nothing of commands; the session says which
 * item it wants next, so bytes pipelined after a command are kept for the mode that follows it. Pure: no
 * sockets.
 *
 * Message parts come dot-unstuffed (RFC 5321 section 4.5.2: the dot that starts a line is removed, a line
 * starting after LF as Dovecot's own DATA reader counts it), ready for BDAT, and the message ends with the
 * CRLF before the terminating dot. No byte is handed out before it is known to be message, so what was
 * handed out is never taken back, and the size limit counts exactly what the backend would store.
 */

export type StreamItem =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'line-too-long' }
  /** More of the message, in order. */
  | { readonly kind: 'body-part'; readonly data: Buffer }
  /** The terminator came: `data` is the message's last bytes (maybe none), `bytes` its whole size. */
  | { readonly kind: 'body-end'; readonly data: Buffer; readonly bytes: number }
  /**
   * The message went past the limit: this comes once, nothing more of it is handed out, and its remaining
   * bytes are read and dropped up to the terminator (a `body-end` with no data follows).
   */
  | { readonly kind: 'body-too-big' };

export interface LmtpStream {
  push(chunk: Buffer): void;
  /** The next command line, or undefined until one is complete. */
  nextLine(): StreamItem | undefined;
  /** The next part of the message, or undefined until more arrives. */
  nextBody(): StreamItem | undefined;
  /** Bytes held that no item has taken yet (for flow control). */
  buffered(): number;
}

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);

export function createLmtpStream(limits: { maxLineBytes: number; maxBodyBytes: number }): LmtpStream {
  /** Bytes no item has taken yet. Small in command mode; in a message, at most the few bytes of a line start. */
  let pending: Buffer = EMPTY;
  /** A line over the limit is being skipped up to its LF. */
  let skippingLine = false;
  // The message being read: its size so far, whether it went past the limit, whether its end was read while
  // the limit was being reported, and the two input bytes before `pending` (the DATA line's CRLF at first).
  let bodyBytes = 0;
  let tooBig = false;
  let ended = false;
  let before1 = LF;
  let before2 = CR;

  /** The input byte at `i` of `pending`, or just before it. */
  const byteAt = (i: number): number | undefined => (i >= 0 ? pending[i] : i === -1 ? before1 : before2);

  /** Drops the first `n` bytes of `pending`, remembering the two before what is left. */
  function consume(n: number): void {
    const b1 = byteAt(n - 1) as number;
    before2 = byteAt(n - 2) as number;
    before1 = b1;
    pending = n >= pending.length ? EMPTY : pending.subarray(n);
  }

  /** Counts `pieces` as message bytes; they are handed out unless the message is past the limit. */
  function part(pieces: Buffer[]): Buffer | 'too-big' | undefined {
    if (pieces.length === 0) return undefined;
    const data = pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
    bodyBytes += data.length;
    if (tooBig) return undefined;
    if (bodyBytes <= limits.maxBodyBytes) return data;
    tooBig = true;
    return 'too-big';
  }

  function endOfBody(data: Buffer | undefined): StreamItem {
    const item: StreamItem = { kind: 'body-end', data: data ?? EMPTY, bytes: bodyBytes };
    bodyBytes = 0;
    tooBig = false;
    ended = false;
    before1 = LF;
    before2 = CR;
    return item;
  }

  /** Reads message bytes from `pending` up to the terminator or the end of what is here. */
  function readBody(): StreamItem | undefined {
    const pieces: Buffer[] = [];
    let from = 0;
    for (;;) {
      // The next dot that starts a line (follows an LF).
      let dot = from === 0 && before1 === LF && pending[0] === DOT ? 0 : -1;
      if (dot === -1) {
        const lf = pending.indexOf('\n.', from);
        if (lf === -1) {
          if (from < pending.length) pieces.push(pending.subarray(from));
          consume(pending.length);
          break;
        }
        dot = lf + 1;
      }
      if (dot > from) pieces.push(pending.subarray(from, dot));
      // After CRLF, a dot and CRLF end the message; the bytes after the dot may still be on their way.
      if (byteAt(dot - 2) === CR && (pending.length === dot + 1 || pending[dot + 1] === CR)) {
        if (pending.length < dot + 3) {
          consume(dot);
          break;
        }
        if (pending[dot + 2] === LF) {
          consume(dot + 3);
          const last = part(pieces);
          if (last === 'too-big') {
            ended = true;
            return { kind: 'body-too-big' };
          }
          return endOfBody(last);
        }
      }
      // A dot that only stuffs the line: dropped.
      from = dot + 1;
    }
    const data = part(pieces);
    if (data === undefined) return undefined;
    return data === 'too-big' ? { kind: 'body-too-big' } : { kind: 'body-part', data };
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
      if (ended) return endOfBody(undefined);
      for (;;) {
        if (pending.length === 0) return undefined;
        const held = pending.length;
        const item = readBody();
        if (item) return item;
        // Only bytes of a message past its limit were read (dropped), or a line start waits for more.
        if (pending.length === 0 || pending.length === held) return undefined;
      }
    },
    buffered: () => pending.length,
  };
}
