/**
 * IMAP literals (RFC 3501 section 4.3): a response line ending in `{n}` is followed by n octets of data
 * (a message, a header), after which the response goes on. This puts one response back together from
 * the lines a line splitter yields: its text (literal markers kept, literals left out) and its literals.
 *
 * Lines reach it without their terminators. A literal spanning lines is rebuilt with CRLF between them,
 * which is what servers send for message text (Dovecot converts stored LF to CRLF), so a literal is
 * counted right when every line break inside it is a CRLF; where it is not, the count runs past the
 * literal's end, and a literal that would end between a CR and its LF is refused as malformed. Pure:
 * lines in, one response out; every size is bounded.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

/** One response: `text` is every text segment joined (`* 3 FETCH (UID 7 BODY[] {342})`), `literals` the data in order. */
export interface ImapResponseText {
  readonly text: string;
  readonly literals: readonly string[];
}

export interface ImapLiteralOptions {
  /** Most octets of literal data one response may carry, all literals together. */
  readonly maxLiteralBytes: number;
  /** Most literals in one response. Default {@link DEFAULT_MAX_LITERALS}. */
  readonly maxLiterals?: number;
  /** Longest text of one response, literals not counted. Default {@link DEFAULT_MAX_TEXT_BYTES}. */
  readonly maxTextBytes?: number;
}

export const DEFAULT_MAX_LITERALS = 16;
export const DEFAULT_MAX_TEXT_BYTES = 65_536;

export interface ImapResponseAssembler {
  /**
   * Feeds the next line. Returns undefined while the response goes on (inside a literal, or after one),
   * then the whole response, or an error once a bound is passed or a literal is malformed. It then
   * starts afresh with the next line.
   */
  push(line: string): ParseResult<ImapResponseText> | undefined;
  /** Whether a response is under way (a stream that ends now has cut it short). */
  readonly pending: boolean;
}

/** Octets announced by `{n}` (or `{n+}`) at the end of `segment`; undefined when it does not end in one. */
export function literalLength(segment: string): number | undefined {
  const match = /\{(\d{1,10})\+?\}$/.exec(segment);
  return match ? Number(match[1]) : undefined;
}

export function createImapResponseAssembler(options: ImapLiteralOptions): ImapResponseAssembler {
  const maxLiterals = options.maxLiterals ?? DEFAULT_MAX_LITERALS;
  const maxTextBytes = options.maxTextBytes ?? DEFAULT_MAX_TEXT_BYTES;
  let text = '';
  let literals: string[] = [];
  let literalBytes = 0;
  /** Octets the literal being read still lacks; undefined while reading text. */
  let missing: number | undefined;
  let literal = '';
  let started = false;

  function reset(): void {
    text = '';
    literals = [];
    literalBytes = 0;
    missing = undefined;
    literal = '';
    started = false;
  }

  function fail(message: string, code: 'PROTOCOL_REPLY_TOO_LONG' | 'PROTOCOL_MALFORMED_REPLY', input: string): ParseResult<ImapResponseText> {
    reset();
    return parseFailure(code, message, input);
  }

  /** A piece of response text: it completes the response, or announces the next literal. */
  function segment(piece: string): ParseResult<ImapResponseText> | undefined {
    text += piece;
    if (text.length > maxTextBytes) return fail(`IMAP response text longer than ${maxTextBytes} bytes`, 'PROTOCOL_REPLY_TOO_LONG', piece);
    const size = literalLength(piece);
    if (size === undefined) {
      const done = parsed({ text, literals });
      reset();
      return done;
    }
    if (literals.length >= maxLiterals) return fail(`more than ${maxLiterals} literals in one IMAP response`, 'PROTOCOL_REPLY_TOO_LONG', piece);
    if (literalBytes + size > options.maxLiteralBytes) return fail(`IMAP literals longer than ${options.maxLiteralBytes} bytes`, 'PROTOCOL_REPLY_TOO_LONG', piece);
    literalBytes += size;
    missing = size;
    literal = '';
    // An empty literal ends at once: the response goes on with the next line.
    if (size === 0) endLiteral();
    return undefined;
  }

  function endLiteral(): void {
    literals.push(literal);
    literal = '';
    missing = undefined;
  }

  return {
    get pending() {
      return started;
    },
    push(line) {
      started = true;
      if (missing === undefined) {
        // After a literal the response text goes on here; otherwise a new response starts.
        return segment(line);
      }
      if (line.length + 2 <= missing) {
        literal += `${line}\r\n`;
        missing -= line.length + 2;
        if (missing === 0) endLiteral();
        return undefined;
      }
      if (missing > line.length) return fail('IMAP literal ends between CR and LF', 'PROTOCOL_MALFORMED_REPLY', line);
      literal += line.slice(0, missing);
      const rest = line.slice(missing);
      endLiteral();
      return segment(rest);
    },
  };
}
