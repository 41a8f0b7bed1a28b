/**
 * SMTP and LMTP replies (RFC 5321 section 4.2, enhanced codes RFC 2034/3463): lines in, typed replies out.
 *
 * `250-first` ... `250 last` (or a bare `250`) make one reply. Every line must carry the same code.
 * The enhanced status code is taken from the first line when its class matches the reply code's
 * first digit, and stripped from every line that starts with it.
 */
import { parseComplete, parsed, parseFailure, type ParseResult } from './result.ts';

export interface SmtpReply {
  /** The three-digit reply code, 200..599. */
  readonly code: number;
  /** `class.subject.detail`, e.g. `2.1.0`, when the server sent one. */
  readonly enhanced?: string;
  /** The text of each line, without code, separator and enhanced code. */
  readonly lines: readonly string[];
}

export interface SmtpReplyLine {
  readonly code: number;
  /** True for `250 text` or a bare `250`; false for a continuation `250-text`. */
  readonly final: boolean;
  readonly text: string;
}

/** Most lines one reply may have by default; a longer reply is hostile (Postfix sends about 10 on EHLO). */
export const DEFAULT_MAX_REPLY_LINES = 100;

export interface SmtpReplyParserOptions {
  /** Default {@link DEFAULT_MAX_REPLY_LINES}. */
  readonly maxLines?: number;
}

export interface SmtpReplyParser {
  /**
   * Feeds one line (terminator already stripped). Returns undefined while the reply goes on,
   * then the reply or a parse error. Either way the parser starts afresh for the next reply;
   * after an error the stream is out of step and the caller should close the connection.
   */
  push(line: string): ParseResult<SmtpReply> | undefined;
}

const REPLY_LINE = /^([2-5][0-9][0-9])(?:([ -])([\s\S]*))?$/;
const ENHANCED_CODE = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)/;

export function parseSmtpReplyLine(line: string): ParseResult<SmtpReplyLine> {
  const match = REPLY_LINE.exec(line);
  if (match === null) return parseFailure('PROTOCOL_MALFORMED_REPLY', 'not an SMTP reply line', line);
  const [, code = '', separator, text = ''] = match;
  return parsed({ code: Number(code), final: separator !== '-', text });
}

export function createSmtpReplyParser(options: SmtpReplyParserOptions = {}): SmtpReplyParser {
  const maxLines = options.maxLines ?? DEFAULT_MAX_REPLY_LINES;
  let code: number | undefined;
  let texts: string[] = [];

  function reset(): void {
    code = undefined;
    texts = [];
  }

  function fail(failure: ParseResult<never>): ParseResult<never> {
    reset();
    return failure;
  }

  return {
    push(line) {
      const result = parseSmtpReplyLine(line);
      if (!result.ok) return fail(result);
      const { value } = result;
      if (code !== undefined && value.code !== code) {
        return fail(parseFailure('PROTOCOL_REPLY_CODE_MISMATCH', `reply ${code} continued with ${value.code}`, line));
      }
      if (texts.length >= maxLines) {
        return fail(parseFailure('PROTOCOL_REPLY_TOO_LONG', `reply longer than ${maxLines} lines`, line));
      }
      code = value.code;
      texts.push(value.text);
      if (!value.final) return undefined;
      const reply = buildReply(value.code, texts);
      reset();
      return parsed(reply);
    },
  };
}

/** Parses exactly one complete reply from its lines. */
export function parseSmtpReply(lines: readonly string[]): ParseResult<SmtpReply> {
  const parser = createSmtpReplyParser();
  return parseComplete((line) => parser.push(line), lines, 'SMTP reply');
}

/** The capability lines of an EHLO or LHLO reply: every line after the greeting line. */
export function helloCapabilities(reply: SmtpReply): string[] {
  return reply.lines.slice(1);
}

function buildReply(code: number, texts: readonly string[]): SmtpReply {
  const enhanced = enhancedCode(code, texts[0] ?? '');
  if (enhanced === undefined) return { code, lines: [...texts] };
  return { code, enhanced, lines: texts.map((text) => stripEnhanced(text, enhanced)) };
}

function enhancedCode(code: number, text: string): string | undefined {
  const match = ENHANCED_CODE.exec(text);
  if (match === null || match[1] !== String(code).charAt(0)) return undefined;
  return match[0];
}

function stripEnhanced(text: string, enhanced: string): string {
  if (text === enhanced) return '';
  return text.startsWith(`${enhanced} `) ? text.slice(enhanced.length + 1) : text;
}
