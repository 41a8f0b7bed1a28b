/**
 * IMAP4rev1 response lines (RFC 3501 section 7), as much as a CAPABILITY / LOGIN / LOGOUT dialog needs:
 * status responses (`* OK ...`, `a1 NO ...`) with an optional `[response code]`, `* CAPABILITY ...`,
 * continuation requests (`+ ...`) and, for anything else untagged (`* 3 EXISTS`), the raw text.
 * Literals (`{n}` at the end of a line) are not followed: such a line is returned as untagged data.
 * Keywords are case-insensitive on the wire and returned upper-case; capability names keep their case.
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

export type ImapStatus = 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE';

export interface ImapStatusResponse {
  readonly kind: 'status';
  /** The command tag; absent for untagged (`*`) responses. */
  readonly tag?: string;
  readonly status: ImapStatus;
  /** What stood between `[` and `]`, e.g. `CAPABILITY IMAP4rev1 LOGIN-REFERRALS`. */
  readonly code?: string;
  /** Set when the response code is `[CAPABILITY ...]`. */
  readonly capabilities?: readonly string[];
  readonly text: string;
}

export interface ImapCapabilityResponse {
  readonly kind: 'capability';
  readonly capabilities: readonly string[];
}

export interface ImapContinuation {
  readonly kind: 'continuation';
  readonly text: string;
}

/** Any other untagged response, e.g. `3 EXISTS`; `text` is everything after `* `. */
export interface ImapUntaggedData {
  readonly kind: 'data';
  readonly text: string;
  /** The literals the response carried (`{n}` markers stay in `text`), when the reader follows them (see imap-literal.ts). */
  readonly literals?: readonly string[];
}

export type ImapResponse = ImapStatusResponse | ImapCapabilityResponse | ImapContinuation | ImapUntaggedData;

const UNTAGGED_STATUSES: ReadonlySet<string> = new Set(['OK', 'NO', 'BAD', 'PREAUTH', 'BYE']);
const TAGGED_STATUSES: ReadonlySet<string> = new Set(['OK', 'NO', 'BAD']);
/** tag = 1*<ASTRING-CHAR except "+">: printable ASCII without atom-specials other than "]". */
const TAG = /^[!#$&',-[\]-z|}~]+$/;

export function parseImapResponse(line: string): ParseResult<ImapResponse> {
  if (line === '+' || line.startsWith('+ ')) return parsed({ kind: 'continuation', text: line.slice(2) });
  if (line.startsWith('* ')) return parseUntagged(line, line.slice(2));
  return parseTagged(line);
}

function parseUntagged(line: string, rest: string): ParseResult<ImapResponse> {
  const [word, text] = splitWord(rest);
  if (word === '') return parseFailure('PROTOCOL_MALFORMED_REPLY', 'empty untagged IMAP response', line);
  const keyword = word.toUpperCase();
  if (UNTAGGED_STATUSES.has(keyword)) return parseStatus(line, undefined, keyword as ImapStatus, text);
  if (keyword === 'CAPABILITY') return parsed({ kind: 'capability', capabilities: splitAtoms(text) });
  return parsed({ kind: 'data', text: rest });
}

function parseTagged(line: string): ParseResult<ImapResponse> {
  const [tag, rest] = splitWord(line);
  if (!TAG.test(tag)) return parseFailure('PROTOCOL_MALFORMED_REPLY', 'not an IMAP response line', line);
  const [word, text] = splitWord(rest);
  const status = word.toUpperCase();
  if (!TAGGED_STATUSES.has(status)) {
    return parseFailure('PROTOCOL_MALFORMED_REPLY', 'tagged IMAP response is not OK, NO or BAD', line);
  }
  return parseStatus(line, tag, status as ImapStatus, text);
}

function parseStatus(line: string, tag: string | undefined, status: ImapStatus, text: string): ParseResult<ImapResponse> {
  const tagged = tag === undefined ? {} : { tag };
  if (!text.startsWith('[')) return parsed({ kind: 'status', ...tagged, status, text });
  const close = text.indexOf(']');
  if (close === -1) return parseFailure('PROTOCOL_MALFORMED_REPLY', 'IMAP response code without "]"', line);
  const code = text.slice(1, close);
  const rest = text.slice(close + 1).replace(/^ /, '');
  const [codeWord, codeArgs] = splitWord(code);
  const capabilities = codeWord.toUpperCase() === 'CAPABILITY' ? { capabilities: splitAtoms(codeArgs) } : {};
  return parsed({ kind: 'status', ...tagged, status, code, ...capabilities, text: rest });
}

/** Splits at the first space: `["OK", "rest of line"]`; the rest is empty when there is no space. */
function splitWord(text: string): [string, string] {
  const space = text.indexOf(' ');
  return space === -1 ? [text, ''] : [text.slice(0, space), text.slice(space + 1)];
}

function splitAtoms(text: string): string[] {
  return text.split(' ').filter((atom) => atom !== '');
}
