/**
 * POP3 responses (RFC 1939 section 3, RFC 2449): `+OK text` / `-ERR text` status lines, and
 * multi-line bodies ended by a line holding only `.`, with dot-unstuffing (`..x` becomes `.x`).
 * Status indicators are matched upper-case, as RFC 1939 writes them.
 */
import { parseComplete, parsed, parseFailure, type ParseResult } from './result.ts';

export interface Pop3Status {
  readonly ok: boolean;
  readonly text: string;
}

const STATUS_LINE = /^(\+OK|-ERR)(?: ([\s\S]*))?$/;

export function parsePop3Status(line: string): ParseResult<Pop3Status> {
  const match = STATUS_LINE.exec(line);
  if (match === null) return parseFailure('PROTOCOL_MALFORMED_REPLY', 'not a POP3 status line', line);
  return parsed({ ok: match[1] === '+OK', text: match[2] ?? '' });
}

/** Most body lines accepted by default: plenty for CAPA, UIDL or LIST; raise it to read messages. */
export const DEFAULT_MAX_MULTILINE_LINES = 1000;

export interface Pop3MultilineOptions {
  /** Default {@link DEFAULT_MAX_MULTILINE_LINES}. */
  readonly maxLines?: number;
}

export interface Pop3MultilineParser {
  /**
   * Feeds one body line (the line after the status line first). Returns undefined until the `.`
   * line, then the unstuffed lines, or `PROTOCOL_REPLY_TOO_LONG`. It then starts afresh.
   */
  push(line: string): ParseResult<string[]> | undefined;
}

export function createPop3MultilineParser(options: Pop3MultilineOptions = {}): Pop3MultilineParser {
  const maxLines = options.maxLines ?? DEFAULT_MAX_MULTILINE_LINES;
  let lines: string[] = [];
  return {
    push(line) {
      const body = lines;
      if (line === '.') {
        lines = [];
        return parsed(body);
      }
      if (body.length >= maxLines) {
        lines = [];
        return parseFailure('PROTOCOL_REPLY_TOO_LONG', `multi-line response longer than ${maxLines} lines`, line);
      }
      body.push(line.startsWith('.') ? line.slice(1) : line);
      return undefined;
    },
  };
}

/** Parses one complete multi-line body (terminating `.` included). */
export function parsePop3Multiline(lines: readonly string[], options: Pop3MultilineOptions = {}): ParseResult<string[]> {
  const parser = createPop3MultilineParser(options);
  return parseComplete((line) => parser.push(line), lines, 'POP3 multi-line response');
}
