/**
 * Postfix's milter client warnings (smtpd for `smtpd_milters`, cleanup for `non_smtpd_milters`), as Postfix 3.7
 * writes them (src/milter/milter8.c):
 *
 * - `connect to Milter service inet:127.0.0.1:11332: Connection refused` (or `Connection timed out`);
 * - `milter inet:…: can't read SMFIC_BODYEOB reply packet header: Connection timed out` (the event names the stage);
 * - `milter inet:…: unexpected reply "Z" in initial handshake`, `… bad packet length: 0`, `… error writing command: Broken pipe`;
 * - follow-ups that repeat a failure already logged (`milter inet:…: read error in initial handshake` after a failed
 *   read, `milter8_event: attempt to send event … after error`): `milter-warning`, not a failure of their own.
 *
 * Each failure makes Postfix act on `milter_default_action` (the line does not say which). Prefix checks only.
 */
import type { MilterFailureReason, MilterStage, PostfixLogEvent } from './postfix-log-events.ts';

type Event = PostfixLogEvent;
/** The fields every event carries, filled in by the caller. */
type LineContext = Pick<Event, 'service' | 'level' | 'truncated'>;

const CONNECT_FAILED = 'connect to Milter service ';
const MILTER = 'milter ';
/** Function-name prefixes Postfix puts before some milter warnings (`milter8_read_data: milter …`). */
const MAX_FUNCTION_CHARS = 32;
/** A milter name (`inet:[host]:port`, `unix:/path`) longer than this is not believed. */
const MAX_NAME_CHARS = 512;

/** Milter events by the stage of the SMTP session they belong to. */
const EVENT_STAGES: Readonly<Record<string, MilterStage>> = {
  SMFIC_OPTNEG: 'connect',
  SMFIC_CONNECT: 'command', SMFIC_HELO: 'command', SMFIC_MAIL: 'command', SMFIC_RCPT: 'command', SMFIC_DATA: 'command',
  SMFIC_UNKNOWN: 'command', SMFIC_MACRO: 'command', SMFIC_ABORT: 'command', SMFIC_QUIT: 'command', SMFIC_QUIT_NC: 'command',
  SMFIC_HEADER: 'content', SMFIC_EOH: 'content', SMFIC_BODY: 'content', SMFIC_BODYEOB: 'content',
};

/** Warnings about what the milter sent (the dialogue is broken, not the connection). */
const PROTOCOL_ERRORS = [
  'unexpected reply ', 'bad packet length', 'unreasonable packet length', 'malformed reply', 'input packet too short',
  'no data in input packet', 'packet too short', 'missing string null', 'unexpected filter response', 'left-over data',
  'protocol version mismatch', 'unsupported protocol version', 'bad change header index', 'bad insert header index',
  'null change header name', 'DISCARD action is not allowed',
];

/** The errno text Postfix appends (`%m`) as a reason. */
function reasonOf(text: string): MilterFailureReason {
  switch (text) {
    case 'Connection refused':
      return 'refused';
    case 'Connection timed out':
      return 'timeout';
    case 'Success':
    case 'Connection reset by peer':
    case 'Broken pipe':
      return 'closed';
    default:
      return 'other';
  }
}

/** The text after the last `: ` (the errno text), bounded. */
function errnoText(m: string, from: number): string {
  const at = m.lastIndexOf(': ');
  return at < from || m.length - at > 64 ? '' : m.slice(at + 2);
}

function failure(c: LineContext, stage: MilterStage, reason: MilterFailureReason): Event {
  return { ...c, kind: 'milter-failure', stage, reason };
}

/** `milter NAME: what` at `at`: the failure it reports. */
function milterWarning(c: LineContext, m: string, at: number): Event | undefined {
  const nameEnd = m.indexOf(': ', at + MILTER.length);
  if (nameEnd === -1 || nameEnd - at > MAX_NAME_CHARS) return undefined;
  const what = nameEnd + 2;
  if (m.startsWith('read error in initial handshake', what)) return { ...c, kind: 'milter-warning' };
  if (m.startsWith("can't read ", what)) {
    const event = m.slice(what + 11, m.indexOf(' ', what + 11));
    return failure(c, EVENT_STAGES[event] ?? 'unknown', reasonOf(errnoText(m, what)));
  }
  if (m.startsWith('EOF while reading ', what)) {
    const reason = reasonOf(errnoText(m, what));
    return failure(c, 'unknown', reason === 'other' ? 'closed' : reason);
  }
  if (m.startsWith('error writing command', what)) return failure(c, 'unknown', reasonOf(errnoText(m, what)));
  const stage: MilterStage = m.endsWith(' in initial handshake') ? 'connect' : 'unknown';
  return failure(c, stage, PROTOCOL_ERRORS.some((p) => m.startsWith(p, what)) ? 'protocol' : 'other');
}

/** A milter warning of smtpd or cleanup (the message after `warning: `), or undefined when it is none. */
export function parseMilterWarning(c: LineContext, m: string): Event | undefined {
  if (m.startsWith(CONNECT_FAILED)) return failure(c, 'connect', reasonOf(errnoText(m, CONNECT_FAILED.length)));
  if (m.startsWith(MILTER)) return milterWarning(c, m, 0);
  // `milter8_read_data: milter inet:…: EOF while reading string: …`, `milter8_event: attempt to send event … after error`.
  if (!m.startsWith('milter')) return undefined;
  const colon = m.indexOf(': ');
  if (colon === -1 || colon > MAX_FUNCTION_CHARS || m.indexOf(' ') < colon) return undefined;
  if (m.startsWith(MILTER, colon + 2)) return milterWarning(c, m, colon + 2);
  return m.startsWith('attempt to send event ', colon + 2) && m.endsWith(' after error') ? { ...c, kind: 'milter-warning' } : undefined;
}
