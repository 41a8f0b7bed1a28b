/**
 * Dovecot's auth-master protocol as the director's `director-userdb` socket speaks it: the passdb lookup the
 * director answers with the user's backend (`host=`). Tab-separated lines; values escape `\t`, `\n`, `\r`,
 * `\1` and `\` with `\1` + a letter. Pure: lines in, typed values out.
 *
 *   → VERSION\t1\t0
 *   → PASS\t7\talice@example.com\tservice=lmtp
 *   ← PASS\t7\tuser=alice@example.com\tproxy=y\tproxy_refresh=450\thost=10.0.0.4
 *   ← NOTFOUND\t8          ← FAIL\t9\treason=...
 */
import { parsed, parseFailure, type ParseResult } from './result.ts';

export const AUTH_MASTER_HANDSHAKE = 'VERSION\t1\t0\n';

export type AuthMasterReply =
  | { readonly kind: 'pass'; readonly id: number; readonly fields: Readonly<Record<string, string>> }
  | { readonly kind: 'notfound'; readonly id: number }
  | { readonly kind: 'fail'; readonly id: number; readonly reason: string }
  /** A line that answers no request: `VERSION`, `SPID`. */
  | { readonly kind: 'info'; readonly name: string };

const ESCAPE = '\x01';
/** What each escaped character becomes after the escape byte. \x01 comes first: it escapes the others. */
const ESCAPED: readonly (readonly [string, string])[] = [['\x01', '1'], ['\t', 't'], ['\r', 'r'], ['\n', 'n'], ['\0', '0']];

export function tabEscape(value: string): string {
  if (!ESCAPED.some(([c]) => value.includes(c))) return value;
  let out = value;
  for (const [c, letter] of ESCAPED) out = out.split(c).join(ESCAPE + letter);
  return out;
}

export function tabUnescape(value: string): string {
  if (!value.includes(ESCAPE)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c !== ESCAPE || i + 1 === value.length) {
      out += c;
      continue;
    }
    const letter = value.charAt(++i);
    out += ESCAPED.find(([, l]) => l === letter)?.[0] ?? letter;
  }
  return out;
}

/** A passdb lookup request line, newline included. */
export function formatPassLookup(id: number, user: string, fields: Readonly<Record<string, string>>): string {
  const extra = Object.entries(fields).map(([k, v]) => `\t${k}=${tabEscape(v)}`).join('');
  return `PASS\t${id}\t${tabEscape(user)}${extra}\n`;
}

function requestId(text: string | undefined, line: string): ParseResult<number> {
  const id = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(id)) {
    return parseFailure('PROTOCOL_MALFORMED_REPLY', 'auth-master reply without a request id', line);
  }
  return parsed(id);
}

export function parseAuthMasterReply(line: string): ParseResult<AuthMasterReply> {
  const [name = '', idText, ...rest] = line.split('\t');
  if (name === 'VERSION' || name === 'SPID' || name === 'CUID' || name === 'COOKIE') return parsed({ kind: 'info', name });
  if (name !== 'PASS' && name !== 'NOTFOUND' && name !== 'FAIL') {
    return parseFailure('PROTOCOL_MALFORMED_REPLY', 'unknown auth-master reply', line);
  }
  const id = requestId(idText, line);
  if (!id.ok) return id;
  const fields: Record<string, string> = {};
  for (const field of rest) {
    const eq = field.indexOf('=');
    if (eq === -1) fields[field] = '';
    else fields[field.slice(0, eq)] = tabUnescape(field.slice(eq + 1));
  }
  if (name === 'NOTFOUND') return parsed({ kind: 'notfound', id: id.value });
  if (name === 'FAIL') return parsed({ kind: 'fail', id: id.value, reason: fields.reason ?? 'lookup failed' });
  return parsed({ kind: 'pass', id: id.value, fields });
}
