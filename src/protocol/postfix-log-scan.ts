/**
 * Small scanners over a Postfix log message (positions in, values out) shared by the per-daemon parsers of
 * `postfix-log.ts`. No regular expressions: each looks at a few characters from a known position.
 */
import { SMTP_STAGES, type SmtpStage } from './postfix-log-events.ts';

const STAGES: ReadonlySet<string> = new Set(SMTP_STAGES);

const ZERO = 48;
const NINE = 57;
const DOT = 46;

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isAlnum(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * End of a queue ID at the start of `m` (the index of its `: `), or -1. Postfix queue IDs are 6 to 20
 * letters and digits: short hex ones (`798DD43E2F1`) and long ones (`4Yx3vB0Zmzz1TR`).
 */
export function queueIdEnd(m: string): number {
  const max = Math.min(m.length, 21);
  let i = 0;
  while (i < max && isAlnum(m.charCodeAt(i))) i++;
  if (i < 6 || i > 20 || m.charCodeAt(i) !== 58 || m.charCodeAt(i + 1) !== 32) return -1;
  return i;
}

/** The SMTP stage word (`RCPT`, `END-OF-MESSAGE`) starting at `at`; `other` for any word Postfix does not use. */
export function stageAt(m: string, at: number): SmtpStage {
  let end = at;
  while (end < m.length && end - at < 20) {
    const c = m.charCodeAt(end);
    if (!((c >= 65 && c <= 90) || c === 45)) break;
    end++;
  }
  const word = m.slice(at, end);
  return STAGES.has(word) ? (word as SmtpStage) : 'other';
}

/** A non-negative decimal (`0`, `0.01`, `334`) in `m[start, end)`, or NaN. */
export function decimalAt(m: string, start: number, end: number): number {
  if (end <= start || end - start > 24) return NaN;
  let dot = false;
  for (let i = start; i < end; i++) {
    const c = m.charCodeAt(i);
    if (c === DOT && !dot && i > start && i < end - 1) dot = true;
    else if (!isDigit(c)) return NaN;
  }
  return Number(m.slice(start, end));
}

/** A whole number in `m[start, end)` of at most 15 digits, or NaN. */
export function wholeAt(m: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return NaN;
  for (let i = start; i < end; i++) if (!isDigit(m.charCodeAt(i))) return NaN;
  return Number(m.slice(start, end));
}

/** `m` from `start` up to (not including) the first `stop` character, or to the end. */
export function untilChar(m: string, start: number, stop: string): number {
  const i = m.indexOf(stop, start);
  return i === -1 ? m.length : i;
}

/** The three-digit SMTP reply code at `at` when a space follows it (`554 …`), else undefined. */
export function replyCodeAt(m: string, at: number): string | undefined {
  const a = m.charCodeAt(at);
  if (a < 50 || a > 53 || !isDigit(m.charCodeAt(at + 1)) || !isDigit(m.charCodeAt(at + 2)) || m.charCodeAt(at + 3) !== 32) return undefined;
  return m.slice(at, at + 3);
}

/** The end of an enhanced status code (`5.7.1`, `4.4.1`) starting at `at`, or -1. */
export function dsnEnd(m: string, at: number): number {
  const c = m.charCodeAt(at);
  if ((c !== 50 && c !== 52 && c !== 53) || m.charCodeAt(at + 1) !== DOT) return -1;
  let i = at + 2;
  const subject = i;
  while (i < m.length && i - subject < 3 && isDigit(m.charCodeAt(i))) i++;
  if (i === subject || m.charCodeAt(i) !== DOT) return -1;
  const detail = ++i;
  while (i < m.length && i - detail < 3 && isDigit(m.charCodeAt(i))) i++;
  if (i === detail || (i < m.length && isDigit(m.charCodeAt(i)))) return -1;
  return i;
}

/** `s` when it is 1 to `max` characters of letters, digits and `extra`, else `fallback`. */
export function token(s: string, max: number, extra: string, fallback: string): string {
  if (s.length === 0 || s.length > max) return fallback;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && !extra.includes(s[i] ?? '')) return fallback;
  }
  return s;
}
