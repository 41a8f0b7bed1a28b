/**
 * The SMTP side of Postfix's log: the server (smtpd) and the delivery agents' per-recipient lines and
 * TLS lines (smtp, lmtp, pipe, virtual, local, error, discard, …). Called by `postfix-log.ts` with the
 * message after the syslog tag and the severity prefix; returns undefined for a line it does not know.
 */
import type {
  DeliveryDelays,
  DeliveryStatus,
  PostfixLogEvent,
  PostfixLogLevel,
  PostfixService,
  SmtpdAction,
  SmtpdCommandCount,
} from './postfix-log-events.ts';
import { parseMilterWarning } from './postfix-log-milter.ts';
import { decimalAt, dsnEnd, queueIdEnd, replyCodeAt, stageAt, token, untilChar, wholeAt } from './postfix-log-scan.ts';

type Event = PostfixLogEvent;
/** The fields every event carries, filled in by the caller. */
export interface LineContext {
  readonly service: PostfixService;
  readonly level: PostfixLogLevel;
  readonly truncated: boolean;
}

const SMTPD_ACTIONS: ReadonlySet<string> = new Set<SmtpdAction>([
  'reject', 'milter-reject', 'reject_warning', 'discard', 'milter-discard', 'hold', 'milter-hold', 'filter', 'redirect', 'warn', 'info', 'bcc',
]);
const TRUST: ReadonlySet<string> = new Set(['Anonymous', 'Untrusted', 'Trusted', 'Verified']);
const STATUSES: ReadonlySet<string> = new Set<DeliveryStatus>(['sent', 'deferred', 'bounced', 'expired', 'deliverable', 'undeliverable']);
const MAX_COMMANDS = 32;

/** `disconnect from host[addr] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4` → the counts. */
function commandCounts(m: string, from: number): SmtpdCommandCount[] {
  const counts: SmtpdCommandCount[] = [];
  const bracket = m.indexOf('] ', from);
  if (bracket === -1) return counts;
  let start = bracket + 2;
  while (start < m.length && counts.length < MAX_COMMANDS) {
    const end = untilChar(m, start, ' ');
    const eq = m.indexOf('=', start);
    if (eq === -1 || eq >= end) break;
    const slash = m.indexOf('/', eq);
    const split = slash !== -1 && slash < end;
    const accepted = wholeAt(m, eq + 1, split ? slash : end);
    const total = split ? wholeAt(m, slash + 1, end) : accepted;
    if (Number.isNaN(accepted) || Number.isNaN(total)) break;
    counts.push({ command: token(m.slice(start, eq), 16, '_-', 'other'), accepted, total });
    start = end + 1;
  }
  return counts;
}

/** `ACTION: STAGE from host[addr]: 554 5.7.1 text; from=<…> …` starting at `at`. */
function smtpdAction(c: LineContext, m: string, at: number, queueId: string | undefined): Event | undefined {
  const colon = m.indexOf(': ', at);
  if (colon === -1 || colon - at > 16) return undefined;
  const action = m.slice(at, colon);
  if (!SMTPD_ACTIONS.has(action)) return undefined;
  const stage = stageAt(m, colon + 2);
  const client = m.indexOf(' from ', colon + 2);
  if (client === -1) return undefined;
  const text = m.indexOf(']: ', client);
  let code: string | undefined;
  let dsn: string | undefined;
  if (text !== -1) {
    code = replyCodeAt(m, text + 3);
    const dsnAt = code === undefined ? text + 3 : text + 7;
    const end = dsnEnd(m, dsnAt);
    if (end !== -1) dsn = m.slice(dsnAt, end);
  }
  return { ...c, kind: 'smtpd-action', action: action as SmtpdAction, stage, code, dsn, queueId };
}

/** `Trusted TLS connection established to host[addr]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`. */
function tls(m: string, direction: ' TLS connection established from ' | ' TLS connection established to '): { trust: string; protocol: string; cipher: string } | undefined {
  const space = m.indexOf(' ');
  if (space === -1 || space > 10 || !m.startsWith(direction, space)) return undefined;
  const trust = m.slice(0, space);
  if (!TRUST.has(trust)) return undefined;
  const peer = m.indexOf(': ', space + direction.length);
  if (peer === -1) return undefined;
  const withAt = m.indexOf(' with cipher ', peer + 2);
  if (withAt === -1) return undefined;
  const cipherAt = withAt + 13;
  return {
    trust,
    protocol: token(m.slice(peer + 2, withAt), 16, '.', 'other'),
    cipher: token(m.slice(cipherAt, untilChar(m, cipherAt, ' ')), 64, '_-.', 'other'),
  };
}

/** `unknown[1.2.3.4]: SASL LOGIN authentication failed: …` (after `warning: `). */
function saslFailure(c: LineContext, m: string): Event | undefined {
  const at = m.indexOf(']: SASL ');
  if (at === -1) return undefined;
  const method = at + 8;
  const end = untilChar(m, method, ' ');
  if (!m.startsWith(' authentication failed', end)) return undefined;
  return { ...c, kind: 'smtpd-sasl-failure', method: token(m.slice(method, end), 20, '-_', 'other') };
}

/** The warnings of a failed forward-confirmed reverse DNS check. */
function isFcrdnsWarning(m: string): boolean {
  if (m.startsWith('hostname ')) return m.includes(' does not resolve to address ');
  const colon = m.indexOf(': ');
  if (colon === -1) return false;
  return (m.startsWith('hostname ', colon + 2) && m.includes(' verification failed', colon)) || m.startsWith('address not listed for hostname ', colon + 2);
}

export function parseSmtpd(c: LineContext, m: string): Event | undefined {
  if (c.level === 'warning') {
    const milter = parseMilterWarning(c, m);
    if (milter !== undefined) return milter;
    const sasl = saslFailure(c, m);
    if (sasl !== undefined) return sasl;
    return isFcrdnsWarning(m) ? { ...c, kind: 'smtpd-fcrdns-error' } : undefined;
  }
  if (c.level !== 'info') return undefined;
  if (m.startsWith('connect from ')) return { ...c, kind: 'smtpd-connect' };
  if (m.startsWith('disconnect from ')) return { ...c, kind: 'smtpd-disconnect', commands: commandCounts(m, 16) };
  if (m.startsWith('lost connection after ')) return { ...c, kind: 'smtpd-lost-connection', afterStage: stageAt(m, 22) };
  if (m.startsWith('timeout after ')) return { ...c, kind: 'smtpd-timeout', afterStage: stageAt(m, 14) };
  if (m.startsWith('NOQUEUE: ')) return smtpdAction(c, m, 9, undefined);
  if (m.startsWith('improper command pipelining after ')) return { ...c, kind: 'smtpd-protocol-violation', violation: 'improper-pipelining', afterStage: stageAt(m, 34) };
  if (m.startsWith('too many errors after ')) return { ...c, kind: 'smtpd-protocol-violation', violation: 'too-many-errors', afterStage: stageAt(m, 22) };
  const q = queueIdEnd(m);
  if (q !== -1) {
    const queueId = m.slice(0, q);
    if (m.startsWith('client=', q + 2)) {
      const sasl = m.indexOf(', sasl_method=', q + 9);
      const method = sasl === -1 ? undefined : token(m.slice(sasl + 14, untilChar(m, sasl + 14, ',')), 20, '-_', 'other');
      return { ...c, kind: 'smtpd-message', queueId, saslMethod: method };
    }
    return smtpdAction(c, m, q + 2, queueId);
  }
  const t = tls(m, ' TLS connection established from ');
  return t === undefined ? undefined : { ...c, kind: 'smtpd-tls', ...t };
}

function delays(m: string, at: number, end: number): DeliveryDelays | undefined {
  const s1 = m.indexOf('/', at);
  const s2 = s1 === -1 ? -1 : m.indexOf('/', s1 + 1);
  const s3 = s2 === -1 ? -1 : m.indexOf('/', s2 + 1);
  if (s3 === -1 || s3 >= end) return undefined;
  const d = { beforeQmgr: decimalAt(m, at, s1), inQmgr: decimalAt(m, s1 + 1, s2), connSetup: decimalAt(m, s2 + 1, s3), transmission: decimalAt(m, s3 + 1, end) };
  return Number.isNaN(d.beforeQmgr + d.inQmgr + d.connSetup + d.transmission) ? undefined : d;
}

/** `to=<…>, [orig_to=<…>, ]relay=…, [conn_use=N, ]delay=…, delays=a/b/c/d, dsn=…, status=…` after the queue ID. */
function delivery(c: LineContext, m: string, queueId: string, at: number): Event | undefined {
  const relayAt = m.indexOf(', relay=', at);
  if (relayAt === -1) return undefined;
  const hostAt = relayAt + 8;
  const relayEnd = untilChar(m, hostAt, ',');
  const bracket = m.indexOf('[', hostAt);
  const relay = m.slice(hostAt, bracket !== -1 && bracket < relayEnd ? bracket : relayEnd);
  const delayAt = m.indexOf(', delay=', relayEnd);
  if (delayAt === -1) return undefined;
  const delayEnd = untilChar(m, delayAt + 8, ',');
  const delay = decimalAt(m, delayAt + 8, delayEnd);
  let next = delayEnd;
  let parts: DeliveryDelays | undefined;
  if (m.startsWith(', delays=', next)) {
    const end = untilChar(m, next + 9, ',');
    parts = delays(m, next + 9, end);
    next = end;
  }
  let dsn: string | undefined;
  if (m.startsWith(', dsn=', next)) {
    const end = dsnEnd(m, next + 6);
    if (end !== -1) dsn = m.slice(next + 6, end);
    next = untilChar(m, next + 6, ',');
  }
  if (!m.startsWith(', status=', next)) return undefined;
  const word = m.slice(next + 9, untilChar(m, next + 9, ' '));
  const status = STATUSES.has(word) ? (word as DeliveryStatus) : 'other';
  return { ...c, kind: 'delivery', queueId, transport: c.service, relay, delay, delays: parts, dsn, status };
}

/** Lines of a delivery agent (smtp, lmtp, pipe, virtual, local, error, discard, qmgr's own deferrals). */
export function parseDeliveryAgent(c: LineContext, m: string): Event | undefined {
  if (c.level !== 'info') return undefined;
  const q = queueIdEnd(m);
  if (q !== -1) return m.startsWith('to=<', q + 2) ? delivery(c, m, m.slice(0, q), q + 6) : undefined;
  if (m.startsWith('connect to ')) {
    const timedOut = m.endsWith(': Connection timed out');
    return timedOut || m.lastIndexOf(': ') > 11 ? { ...c, kind: 'smtp-connect-failed', timedOut } : undefined;
  }
  const t = tls(m, ' TLS connection established to ');
  return t === undefined ? undefined : { ...c, kind: 'smtp-tls', ...t };
}
