/**
 * Splits the bytes of a log into lines for the Postfix codec. Unlike the protocol line splitter, an
 * over-long line is not dropped but cut: a log line is counted whatever its length, and its beginning
 * (the syslog tag) says which service wrote it.
 *
 * - A line ends at LF; a CR before it stays (the codec ignores it).
 * - At most `keepBytes` bytes of a line are kept (default: one more than the codec reads, so the codec
 *   sees that the line was longer and says so); the rest, up to the next LF, is skipped. Memory stays
 *   bounded by `keepBytes` whatever the input.
 * - Lines that lie within one chunk are handed over without copying.
 */
import { POSTFIX_LOG_MAX_LINE_BYTES } from './postfix-log.ts';

export const DEFAULT_KEEP_BYTES = POSTFIX_LOG_MAX_LINE_BYTES + 1;

export interface LogLineSplitter {
  /** Feeds the next chunk; `onLine` receives each line it completes (only valid during the call). */
  push(chunk: Buffer): void;
  /** The input ended: a pending unterminated line is handed over too. */
  end(): void;
  /** Forgets a pending partial line (the file was truncated or replaced). */
  reset(): void;
}

const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

export function createLogLineSplitter(onLine: (line: Buffer) => void, keepBytes = DEFAULT_KEEP_BYTES): LogLineSplitter {
  let pending: Buffer = EMPTY;
  /** The pending line reached `keepBytes`: skip to the next LF. */
  let full = false;
  let partial = false;

  function keep(piece: Buffer): void {
    if (full) return;
    const room = keepBytes - pending.length;
    const take = piece.length > room ? piece.subarray(0, room) : piece;
    pending = pending.length === 0 ? Buffer.from(take) : Buffer.concat([pending, take]);
    if (pending.length >= keepBytes) full = true;
  }

  function emitPending(): void {
    const line = pending;
    pending = EMPTY;
    full = false;
    partial = false;
    onLine(line);
  }

  return {
    push(chunk) {
      let start = 0;
      while (start < chunk.length) {
        const lf = chunk.indexOf(LF, start);
        if (lf === -1) {
          keep(chunk.subarray(start));
          partial = true;
          return;
        }
        if (partial) {
          keep(chunk.subarray(start, lf));
          emitPending();
        } else {
          const line = chunk.subarray(start, lf);
          onLine(line.length > keepBytes ? line.subarray(0, keepBytes) : line);
        }
        start = lf + 1;
      }
    },
    end() {
      if (partial) emitPending();
    },
    reset() {
      pending = EMPTY;
      full = false;
      partial = false;
    },
  };
}
