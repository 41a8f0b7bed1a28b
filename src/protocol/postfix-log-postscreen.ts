/**
 * postscreen's log (and dnsblog's, which answers postscreen's blocklist queries): what it did with each client.
 * Called by `postfix-log.ts` with the message after the syslog tag and the severity prefix; returns undefined for
 * a line it does not know. The wording is Postfix 3.7's, and the names before 3.6 (`WHITELISTED`,
 * `BLACKLISTED`, `WHITELIST VETO`) as well.
 */
import type { PostfixLogEvent, PostscreenAction, PostscreenRejectReason } from './postfix-log-events.ts';
import { dsnEnd, replyCodeAt, stageAt, token, wholeAt } from './postfix-log-scan.ts';
import type { LineContext } from './postfix-log-smtp.ts';

type Event = PostfixLogEvent;

/** Line openings, each followed by the client (`[addr]:port`, or `from [addr]:port`), and what they mean. */
const OPENINGS: readonly (readonly [string, PostscreenAction])[] = [
  ['CONNECT from [', 'connect'],
  ['PASS NEW [', 'pass_new'],
  ['PASS OLD [', 'pass_old'],
  ['DISCONNECT [', 'disconnect'],
  ['HANGUP after ', 'hangup'],
  ['ALLOWLISTED [', 'allowlisted'],
  ['WHITELISTED [', 'allowlisted'],
  ['DENYLISTED [', 'denylisted'],
  ['BLACKLISTED [', 'denylisted'],
  ['ALLOWLIST VETO [', 'allowlist_veto'],
  ['WHITELIST VETO [', 'allowlist_veto'],
  ['COMMAND PIPELINING from [', 'pipelining'],
  ['NON-SMTP COMMAND from [', 'non_smtp_command'],
  ['BARE NEWLINE from [', 'bare_newline'],
  ['COMMAND TIME LIMIT from [', 'command_time_limit'],
  ['COMMAND COUNT LIMIT from [', 'command_count_limit'],
  ['COMMAND LENGTH LIMIT from [', 'command_length_limit'],
  ['DATA without valid RCPT from [', 'data_without_rcpt'],
];

/** What a refusal's text says, by a phrase in it. */
const REASONS: readonly (readonly [string, PostscreenRejectReason])[] = [
  [' blocked using ', 'dnsbl'],
  ['Protocol error', 'protocol'],
  ['too many connections', 'connection_limit'],
  ['ports busy', 'busy'],
  ['Service currently unavailable', 'unavailable'],
];

/** `PREGREET 17 after 0.1 from [addr]:port: EHLO x\r\n`. */
function pregreet(c: LineContext, m: string): Event | undefined {
  const after = m.indexOf(' after ', 9);
  if (after === -1 || Number.isNaN(wholeAt(m, 9, after))) return undefined;
  return m.includes(' from [', after) ? { ...c, kind: 'postscreen-action', action: 'pregreet' } : undefined;
}

/** `DNSBL rank 3 for [addr]:port`. */
function dnsblRank(c: LineContext, m: string): Event | undefined {
  const end = m.indexOf(' for [', 11);
  const rank = end === -1 ? NaN : wholeAt(m, 11, end);
  return Number.isNaN(rank) ? undefined : { ...c, kind: 'postscreen-dnsbl-rank', rank };
}

/** `NOQUEUE: reject: RCPT from [addr]:port: 550 5.7.1 Service unavailable; client [addr] blocked using list; …`. */
function reject(c: LineContext, m: string): Event | undefined {
  const at = 17;
  const stage = stageAt(m, at);
  const client = m.indexOf(' from [', at);
  // `[addr]:port: ` (an IPv6 address has colons, never `: `), then the refusal.
  const colon = client === -1 ? -1 : m.indexOf(': ', client + 7);
  if (stage === 'other' || client - at > 20 || colon === -1 || colon - client > 60) return undefined;
  const start = colon + 2;
  const code = replyCodeAt(m, start);
  const dsnAt = code === undefined ? start : start + 4;
  const end = dsnEnd(m, dsnAt);
  // The reply text, up to the envelope (`; from=<…>`) a client could fill with any phrase.
  const envelope = m.indexOf('; from=<', start);
  const phrase = m.slice(start, envelope === -1 ? m.length : envelope);
  const reason = REASONS.find(([p]) => phrase.includes(p))?.[1] ?? 'other';
  return { ...c, kind: 'postscreen-reject', stage, reason, code, dsn: end === -1 ? undefined : m.slice(dsnAt, end) };
}

export function parsePostscreen(c: LineContext, m: string): Event | undefined {
  if (c.level !== 'info') return undefined;
  for (const [opening, action] of OPENINGS) {
    if (m.startsWith(opening)) return action !== 'hangup' || m.includes(' from [', 13) ? { ...c, kind: 'postscreen-action', action } : undefined;
  }
  if (m.startsWith('PREGREET ')) return pregreet(c, m);
  if (m.startsWith('DNSBL rank ')) return dnsblRank(c, m);
  if (m.startsWith('NOQUEUE: reject: ')) return reject(c, m);
  // `cache btree:/…/postscreen_cache full cleanup: retained=3 dropped=1 entries`.
  if (m.startsWith('cache ') && m.includes(' cleanup: retained=')) return { ...c, kind: 'statistics' };
  return undefined;
}

/** dnsblog: `addr 192.0.2.1 listed by domain zen.example.net as 127.0.0.2`. */
export function parseDnsblog(c: LineContext, m: string): Event | undefined {
  if (c.level !== 'info' || !m.startsWith('addr ')) return undefined;
  const by = m.indexOf(' listed by domain ', 5);
  if (by === -1 || by - 5 > 45) return undefined;
  const end = m.indexOf(' as ', by + 18);
  if (end === -1) return undefined;
  const domain = token(m.slice(by + 18, end), 253, '.-_', '');
  return domain === '' ? undefined : { ...c, kind: 'dnsbl-listed', domain: domain.toLowerCase() };
}
