/** What a codec returns: a value, or a typed {@link ParseError} describing bad input. Never thrown. */
import type { ParseErrorCode } from './errors.ts';

/** A codec's verdict on bad input. `input` is the offending line, cut to 200 characters. */
export interface ParseError {
  readonly code: ParseErrorCode;
  readonly message: string;
  readonly input?: string;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ParseError };

const INPUT_EXCERPT_CHARS = 200;

export function parsed<T>(value: T): ParseResult<T> {
  return { ok: true, value };
}

export function parseFailure(code: ParseErrorCode, message: string, input?: string): { ok: false; error: ParseError } {
  const error: ParseError =
    input === undefined ? { code, message } : { code, message, input: input.slice(0, INPUT_EXCERPT_CHARS) };
  return { ok: false, error };
}

/**
 * Feeds `lines` to an incremental parser and expects exactly one complete value, ending on the last line.
 * `what` names the thing in error messages ("SMTP reply").
 */
export function parseComplete<T>(
  push: (line: string) => ParseResult<T> | undefined,
  lines: readonly string[],
  what: string,
): ParseResult<T> {
  for (const [index, line] of lines.entries()) {
    const result = push(line);
    if (result === undefined) continue;
    if (!result.ok || index === lines.length - 1) return result;
    return parseFailure('PROTOCOL_MALFORMED_REPLY', `lines after the end of the ${what}`, lines[index + 1]);
  }
  return parseFailure('PROTOCOL_MALFORMED_REPLY', `${what} is incomplete`, lines.at(-1));
}
