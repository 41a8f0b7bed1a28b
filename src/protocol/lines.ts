/**
 * Splits a byte stream into lines. Knows nothing about mail protocols.
 *
 * - A line ends at LF; one CR right before the LF is part of the terminator (CRLF or LF).
 *   The terminator is stripped; a bare CR elsewhere stays in the line.
 * - Lines are decoded as latin1: every byte maps to one character (U+0000..U+00FF), so invalid
 *   UTF-8 or binary noise never throws, `line.length` is the byte count, and
 *   `Buffer.from(line, 'latin1')` gives back the exact bytes.
 * - A line longer than `maxLineBytes` (terminator not counted) yields one
 *   `PROTOCOL_LINE_TOO_LONG` error; its bytes are dropped up to and including the next LF and
 *   splitting resumes after it. Memory stays bounded by `maxLineBytes` whatever the peer sends.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

/** Longest line accepted by default, in bytes, terminator not counted. */
export const DEFAULT_MAX_LINE_BYTES = 8192;

export interface LineSplitterOptions {
  /** Longest accepted line in bytes, terminator not counted. Default {@link DEFAULT_MAX_LINE_BYTES}. */
  readonly maxLineBytes?: number;
}

export interface LineSplitter {
  /** Feeds the next chunk; returns the lines (or line errors) it completed, in order. */
  push(chunk: Uint8Array): ParseResult<string>[];
  /** Ends the stream: a pending unterminated line yields `PROTOCOL_LINE_UNTERMINATED`. */
  end(): ParseResult<string>[];
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export function createLineSplitter(options: LineSplitterOptions = {}): LineSplitter {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let pending: Buffer = EMPTY;
  let discarding = false;

  function completeLine(piece: Buffer, results: ParseResult<string>[]): void {
    if (discarding) {
      discarding = false;
      return;
    }
    const bytes = pending.length === 0 ? piece : Buffer.concat([pending, piece]);
    pending = EMPTY;
    const content = bytes.at(-1) === CR ? bytes.subarray(0, -1) : bytes;
    results.push(content.length > maxLineBytes ? tooLong(maxLineBytes, content) : parsed(content.toString('latin1')));
  }

  function keepPartial(rest: Buffer, results: ParseResult<string>[]): void {
    if (discarding) return;
    pending = pending.length === 0 ? Buffer.from(rest) : Buffer.concat([pending, rest]);
    const contentBytes = pending.length - (pending.at(-1) === CR ? 1 : 0);
    if (contentBytes > maxLineBytes) {
      results.push(tooLong(maxLineBytes, pending));
      pending = EMPTY;
      discarding = true;
    }
  }

  return {
    push(chunk) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const results: ParseResult<string>[] = [];
      let start = 0;
      while (start < bytes.length) {
        const lf = bytes.indexOf(LF, start);
        if (lf === -1) {
          keepPartial(bytes.subarray(start), results);
          break;
        }
        completeLine(bytes.subarray(start, lf), results);
        start = lf + 1;
      }
      return results;
    },
    end() {
      const partial = pending;
      const wasDiscarding = discarding;
      pending = EMPTY;
      discarding = false;
      if (partial.length === 0 || wasDiscarding) return [];
      return [parseFailure('PROTOCOL_LINE_UNTERMINATED', 'stream ended without a line terminator', partial.toString('latin1'))];
    },
  };
}

function tooLong(maxLineBytes: number, bytes: Buffer): ParseResult<string> {
  return parseFailure(
    'PROTOCOL_LINE_TOO_LONG',
    `line longer than ${maxLineBytes} bytes`,
    bytes.subarray(0, 200).toString('latin1'),
  );
}
