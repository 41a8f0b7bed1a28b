/**
 * What the log generator writes, line by line: every line has exactly one kind, and the generator counts each
 * kind (with the labels a metric would carry) as it writes, so a bench can hold an exporter's counters against
 * what is really in the file.
 */

/** Lines of an event some metric of the contract (/work/metrics-contract.md, `mailfleet_postfix_*`) counts. */
export const EVENT_KINDS = [
  'smtpd_connect', 'smtpd_disconnect', 'smtpd_lost', 'smtpd_client', 'smtpd_reject', 'smtpd_sasl_failure',
  'smtpd_tls', 'smtpd_fcrdns', 'cleanup_message_id', 'cleanup_reject', 'qmgr_inserted', 'qmgr_removed',
  'qmgr_expired', 'delivery', 'smtp_tls', 'smtp_timeout', 'bounce_notification',
] as const;

/** Well-formed Postfix lines no metric of the contract counts (anvil statistics, master start-up, timeouts, …). */
export const OTHER_KINDS = ['other'] as const;

/**
 * Hostile lines: binary noise (any byte but a newline), invalid UTF-8, very long lines (16 KiB to 1 MiB) and
 * lines cut short before their message could be read. None of them is an event.
 */
export const HOSTILE_KINDS = ['noise', 'invalid_utf8', 'long', 'truncated'] as const;

export type EventKind = (typeof EVENT_KINDS)[number];
export type Kind = EventKind | (typeof OTHER_KINDS)[number] | (typeof HOSTILE_KINDS)[number];
export const KINDS: readonly Kind[] = [...EVENT_KINDS, ...OTHER_KINDS, ...HOSTILE_KINDS];

/** How a line's timestamp and host are written. */
export const FORMATS = {
  /** Postfix's own `maillog_file` (postlogd), as the platform writes it to stdout: `Mar 01 05:06:17 mail postfix/smtpd[…]: …`. */
  maillog: 0.8,
  /** Classic BSD syslog, day padded with a space: `Mar  1 05:06:17 mail postfix/smtpd[…]: …`. */
  syslog: 0.12,
  /** rsyslog's default on Debian (RFC 3339, microseconds): `2026-03-01T05:06:17.123456+00:00 mail postfix/smtpd[…]: …`. */
  rfc3339: 0.08,
} as const;
export type Format = keyof typeof FORMATS;

/** One log event before its timestamp and host are written. */
export interface LogEvent {
  /** The syslog tag: `postfix/smtpd`, `postfix/submission/smtpd`, `postfix-mx/qmgr`. */
  tag: string;
  pid: number;
  /** The message after `tag[pid]: `. */
  text: string;
  kind: EventKind | 'other';
  /** `smtpd_reject`: the SMTP stage (RCPT, END-OF-MESSAGE, …); `smtpd_lost`: the stage after which the client left. */
  stage?: string;
  /** `delivery`: the delivery agent (lmtp, smtp, error) and the status (sent, deferred, bounced). */
  transport?: string;
  status?: string;
  /** `qmgr_inserted`: size in bytes and number of recipients. */
  size?: number;
  nrcpt?: number;
}

/** What a generated log holds, counted while it was written. */
export interface Totals {
  seed: number;
  lines: number;
  /** Bytes including every line's newline. */
  bytes: number;
  kinds: Record<Kind, number>;
  /** Well-formed lines by syslog tag. */
  tags: Record<string, number>;
  formats: Record<Format, number>;
  rejectStages: Record<string, number>;
  lostStages: Record<string, number>;
  /** `delivery` lines by `transport/status`. */
  deliveries: Record<string, number>;
  /** Sums over `qmgr_inserted` lines. */
  insertedBytes: number;
  insertedRecipients: number;
}

export function emptyTotals(seed: number): Totals {
  return {
    seed, lines: 0, bytes: 0,
    kinds: Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>,
    tags: {}, formats: { maillog: 0, syslog: 0, rfc3339: 0 },
    rejectStages: {}, lostStages: {}, deliveries: {}, insertedBytes: 0, insertedRecipients: 0,
  };
}

const bump = (map: Record<string, number>, key: string) => void (map[key] = (map[key] ?? 0) + 1);

/** Counts one written line of a well-formed event. */
export function countEvent(t: Totals, e: LogEvent, format: Format, bytes: number): void {
  t.lines++;
  t.bytes += bytes;
  t.kinds[e.kind]++;
  t.formats[format]++;
  bump(t.tags, e.tag);
  if (e.kind === 'smtpd_reject') bump(t.rejectStages, e.stage ?? '?');
  if (e.kind === 'smtpd_lost') bump(t.lostStages, e.stage ?? '?');
  if (e.kind === 'delivery') bump(t.deliveries, `${e.transport ?? '?'}/${e.status ?? '?'}`);
  if (e.kind === 'qmgr_inserted') {
    t.insertedBytes += e.size ?? 0;
    t.insertedRecipients += e.nrcpt ?? 0;
  }
}

/** Counts one written hostile line. */
export function countHostile(t: Totals, kind: (typeof HOSTILE_KINDS)[number], bytes: number): void {
  t.lines++;
  t.bytes += bytes;
  t.kinds[kind]++;
}

/** Lines no contract metric counts as an event: what an exporter should report as unsupported. */
export function unsupportedLines(t: Totals): number {
  return [...OTHER_KINDS, ...HOSTILE_KINDS].reduce((sum, k) => sum + t.kinds[k], 0);
}

/** Sum of `deliveries` whose key matches `transport` and `status` (`*` for any). */
export function deliveriesOf(t: Totals, transport: string, status = '*'): number {
  let n = 0;
  for (const [key, count] of Object.entries(t.deliveries)) {
    const [tr, st] = key.split('/');
    if ((transport === '*' || tr === transport) && (status === '*' || st === status)) n += count;
  }
  return n;
}
