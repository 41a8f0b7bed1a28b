/**
 * Postfix log lines → typed events. Pure: one line in (a string, or the bytes as read), one event out;
 * never throws, whatever the bytes.
 *
 * - The line's prefix is not interpreted: whatever precedes the syslog tag (Postfix's own `maillog_file`
 *   stamp `Dec 06 05:04:55 mx`, classic syslog `Dec  6 05:04:55 mx`, RFC 3339 `2024-12-06T05:04:55.1+00:00 mx`,
 *   a container runtime's stamp) is skipped. The tag is the word before the first `[pid]: `.
 * - The daemon is the tag's last path segment, so services renamed by `syslog_name`
 *   (`postfix/submission/smtpd`, `postfix-mx/smtpd`, `postfix/mta/smtpd`, `postfix/relay/smtp`) are the
 *   daemon they run. A tag without `/` is not Postfix's (`other`); a line without a tag is `unknown`.
 * - Dispatch on the daemon, then prefix checks at known positions: no regular expression runs per line.
 * - Work per line is bounded: a line longer than {@link POSTFIX_LOG_MAX_LINE_BYTES} is cut there before
 *   parsing (`truncated: true`). Bytes are read as latin1 (one character per byte), so invalid UTF-8 or
 *   binary noise cannot throw.
 * - Anything not understood is `{ kind: 'unsupported', service, level }`.
 */
import type { BounceNotification, CleanupAction, PostfixLogEvent, PostfixLogLevel, PostfixService } from './postfix-log-events.ts';
import { POSTFIX_DAEMONS } from './postfix-log-events.ts';
import { parseMilterWarning } from './postfix-log-milter.ts';
import { parseDnsblog, parsePostscreen } from './postfix-log-postscreen.ts';
import { dsnEnd, queueIdEnd, stageAt } from './postfix-log-scan.ts';
import { parseDeliveryAgent, parseSmtpd, type LineContext } from './postfix-log-smtp.ts';

/** Longest line read, in bytes (characters for a string); the rest of a longer line is ignored. */
export const POSTFIX_LOG_MAX_LINE_BYTES = 65_536;

type Event = PostfixLogEvent;

const DAEMONS: ReadonlySet<string> = new Set(POSTFIX_DAEMONS);
/** The tag is searched for in the first characters only: a prefix is a time stamp and a host name. */
const MAX_PREFIX_CHARS = 1024;

const BOUNCE_NOTIFICATIONS: ReadonlySet<string> = new Set([
  'sender non-delivery', 'postmaster non-delivery', 'sender delivery status', 'sender delay', 'postmaster delay',
]);
const CLEANUP_ACTIONS: ReadonlySet<string> = new Set([
  'hold', 'discard', 'redirect', 'filter', 'warning', 'info', 'replace', 'prepend', 'strip', 'bcc', 'milter-hold', 'milter-discard',
]);
const POSTSUPER_ACTIONS: Readonly<Record<string, 'hold' | 'release' | 'expire' | 'remove' | 'requeue'>> = {
  'placed on hold': 'hold',
  'released from hold': 'release',
  expired: 'expire',
  removed: 'remove',
  requeued: 'requeue',
};
const POSTSUPER_SUMMARIES = ['Placed on hold: ', 'Released from hold: ', 'Force-expired: ', 'Deleted: ', 'Requeued: '];

function unsupported(c: LineContext): Event {
  return { service: c.service, level: c.level, truncated: c.truncated, kind: 'unsupported' };
}

/** The severity prefix at `at` and where the message proper starts. */
function levelAt(line: string, at: number): [PostfixLogLevel, number] {
  switch (line.charCodeAt(at)) {
    case 119: // w
      if (line.startsWith('warning: ', at)) return ['warning', at + 9];
      break;
    case 101: // e
      if (line.startsWith('error: ', at)) return ['error', at + 7];
      break;
    case 102: // f
      if (line.startsWith('fatal: ', at)) return ['fatal', at + 7];
      break;
    case 112: // p
      if (line.startsWith('panic: ', at)) return ['panic', at + 7];
      break;
  }
  return ['info', at];
}

function parseQmgr(c: LineContext, m: string): Event | undefined {
  const q = queueIdEnd(m);
  if (q === -1 || c.level !== 'info') return undefined;
  const queueId = m.slice(0, q);
  const rest = q + 2;
  if (m.startsWith('from=<', rest)) {
    const size = m.lastIndexOf(', size=');
    if (size > rest) {
      const sizeEnd = m.indexOf(', nrcpt=', size);
      const nrcptEnd = sizeEnd === -1 ? -1 : m.indexOf(' ', sizeEnd + 8);
      if (nrcptEnd === -1) return undefined;
      const bytes = Number(m.slice(size + 7, sizeEnd));
      const recipients = Number(m.slice(sizeEnd + 8, nrcptEnd));
      if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(recipients) || bytes < 0 || recipients < 0) return undefined;
      return { ...c, kind: 'qmgr-insert', queueId, size: bytes, recipients };
    }
    const status = m.lastIndexOf(', status=');
    if (status > rest && m.endsWith('expired, returned to sender')) {
      const forced = m.startsWith('force-expired', status + 9);
      if (forced || m.startsWith('expired', status + 9)) return { ...c, kind: 'qmgr-expired', queueId, forced };
    }
    return undefined;
  }
  if (m.length === rest + 7 && m.endsWith('removed')) return { ...c, kind: 'qmgr-removed', queueId };
  return m.startsWith('to=<', rest) ? parseDeliveryAgent(c, m) : undefined;
}

function parseCleanup(c: LineContext, m: string): Event | undefined {
  if (c.level === 'warning') return parseMilterWarning(c, m) ?? (m.includes('message not accepted') ? { ...c, kind: 'cleanup-not-accepted' } : undefined);
  const q = queueIdEnd(m);
  if (q === -1 || c.level !== 'info') return undefined;
  const queueId = m.slice(0, q);
  const rest = q + 2;
  if (m.startsWith('message-id=', rest)) return { ...c, kind: 'cleanup-message', queueId, resent: false };
  if (m.startsWith('resent-message-id=', rest)) return { ...c, kind: 'cleanup-message', queueId, resent: true };
  const colon = m.indexOf(': ', rest);
  if (colon === -1 || colon - rest > 16) return undefined;
  const action = m.slice(rest, colon);
  if (action === 'reject' || action === 'milter-reject') {
    // `milter-reject: END-OF-MESSAGE from host[addr]: 5.7.1 text; from=<…> …`, or a header/body check's
    // `reject: header Subject: … from host[addr]; from=<…> … helo=<…>: 5.7.1 text`, refused at the end of DATA
    // too: the DSN only, no reply code.
    const check = m.startsWith('header ', colon + 2) || m.startsWith('body ', colon + 2);
    const text = check ? m.lastIndexOf('>: ') : m.indexOf(']: ', colon);
    const end = text === -1 ? -1 : dsnEnd(m, text + 3);
    const stage = check ? 'END-OF-MESSAGE' : stageAt(m, colon + 2);
    return { ...c, kind: 'cleanup-reject', queueId, milter: action === 'milter-reject', stage, dsn: end === -1 ? undefined : m.slice(text + 3, end) };
  }
  return CLEANUP_ACTIONS.has(action) ? { ...c, kind: 'cleanup-action', queueId, action: action as CleanupAction } : undefined;
}

function parseBounce(c: LineContext, m: string): Event | undefined {
  const q = queueIdEnd(m);
  if (q === -1 || c.level !== 'info') return undefined;
  const end = m.indexOf(' notification: ', q + 2);
  if (end === -1) return undefined;
  const notification = m.slice(q + 2, end);
  return BOUNCE_NOTIFICATIONS.has(notification) ? { ...c, kind: 'bounce-notification', queueId: m.slice(0, q), notification: notification as BounceNotification } : undefined;
}

function parsePostsuper(c: LineContext, m: string): Event | undefined {
  if (c.level !== 'info') return undefined;
  const q = queueIdEnd(m);
  if (q !== -1) {
    const action = POSTSUPER_ACTIONS[m.slice(q + 2)];
    return action === undefined ? undefined : { ...c, kind: 'postsuper', action };
  }
  return POSTSUPER_SUMMARIES.some((s) => m.startsWith(s)) ? { ...c, kind: 'postsuper', action: 'summary' } : undefined;
}

function parseMessage(c: LineContext, m: string): Event | undefined {
  switch (c.service) {
    case 'smtpd':
      return parseSmtpd(c, m);
    case 'smtp':
    case 'lmtp':
    case 'pipe':
    case 'virtual':
    case 'local':
    case 'error':
    case 'discard':
      return parseDeliveryAgent(c, m);
    case 'qmgr':
    case 'nqmgr':
    case 'oqmgr':
      return parseQmgr(c, m);
    case 'cleanup':
      return parseCleanup(c, m);
    case 'bounce':
      return parseBounce(c, m);
    case 'pickup': {
      const q = queueIdEnd(m);
      return q !== -1 && c.level === 'info' && m.startsWith('uid=', q + 2) ? { ...c, kind: 'pickup', queueId: m.slice(0, q) } : undefined;
    }
    case 'master':
      if (c.level !== 'info') return undefined;
      if (m.startsWith('daemon started')) return { ...c, kind: 'master', what: 'started' };
      if (m.startsWith('reload')) return { ...c, kind: 'master', what: 'reloaded' };
      return m.startsWith('terminating on signal') ? { ...c, kind: 'master', what: 'stopping' } : undefined;
    case 'postfix-script':
      if (c.level !== 'info') return undefined;
      if (m.startsWith('starting the Postfix')) return { ...c, kind: 'master', what: 'started' };
      if (m.startsWith('refreshing the Postfix')) return { ...c, kind: 'master', what: 'reloaded' };
      return m.startsWith('stopping the Postfix') ? { ...c, kind: 'master', what: 'stopping' } : undefined;
    case 'postsuper':
      return parsePostsuper(c, m);
    case 'postscreen':
      return parsePostscreen(c, m);
    case 'dnsblog':
      return parseDnsblog(c, m);
    case 'anvil':
    case 'scache':
      return c.level === 'info' && m.startsWith('statistics: ') ? { ...c, kind: 'statistics' } : undefined;
    default:
      return undefined;
  }
}

/** The line as a string of at most {@link POSTFIX_LOG_MAX_LINE_BYTES}, and whether it was cut. */
function bounded(input: string | Uint8Array): [string, boolean] {
  if (typeof input === 'string') {
    return input.length > POSTFIX_LOG_MAX_LINE_BYTES ? [input.slice(0, POSTFIX_LOG_MAX_LINE_BYTES), true] : [input, false];
  }
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const cut = bytes.length > POSTFIX_LOG_MAX_LINE_BYTES;
  return [bytes.toString('latin1', 0, cut ? POSTFIX_LOG_MAX_LINE_BYTES : bytes.length), cut];
}

/** The service a syslog tag names (`postfix/submission/smtpd` → `smtpd`), or undefined when there is no tag. */
function serviceOf(line: string, open: number, close: number): PostfixService | undefined {
  if (open === -1 || close - open < 2) return undefined;
  for (let i = open + 1; i < close; i++) {
    const ch = line.charCodeAt(i);
    if (ch < 48 || ch > 57) return undefined;
  }
  const start = line.lastIndexOf(' ', open) + 1;
  const slash = line.lastIndexOf('/', open);
  if (slash < start || slash === open - 1) return open > start ? 'other' : undefined;
  const daemon = line.slice(slash + 1, open);
  return DAEMONS.has(daemon) ? (daemon as PostfixService) : 'other';
}

/** One Postfix log line (without its line terminator) as a typed event. */
export function parsePostfixLogLine(input: string | Uint8Array): PostfixLogEvent {
  const [raw, truncated] = bounded(input);
  const line = raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
  const close = line.indexOf(']: ');
  const open = close === -1 || close > MAX_PREFIX_CHARS ? -1 : line.lastIndexOf('[', close);
  const service = serviceOf(line, open, close);
  if (service === undefined) return { service: 'unknown', level: 'info', truncated, kind: 'unsupported' };
  const [level, at] = levelAt(line, close + 3);
  const c: LineContext = { service, level, truncated };
  if (service === 'other') return unsupported(c);
  return parseMessage(c, line.slice(at)) ?? unsupported(c);
}
