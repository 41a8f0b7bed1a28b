/**
 * Metric parity: each family prometheus-postfix-exporter (Debian 0.3.0, kumina/postfix_exporter) exports, the
 * family of the metrics contract that covers it, how to total both sides, and how many lines of that kind the
 * generated log really holds. Known defects of the anchor are named where they make its totals differ.
 */
import { deliveriesOf, unsupportedLines, type Totals } from './kinds.ts';
import { total, type Families, type Selector } from './metrics.ts';

export interface ParityEntry {
  anchor: string;
  /** The covering family of the contract; null where the platform has none. */
  mailfleet: string | null;
  anchorSelector?: Selector;
  /** Divides the anchor's total (its SMTP delay histogram observes all four stages into one series). */
  anchorDivisor?: number;
  mailfleetSelector?: Selector;
  /** Lines of this kind in the generated log; absent where the log is not the source (showq) or the kind is not generated. */
  log?: (t: Totals) => number;
  note: string;
}

export const PARITY: readonly ParityEntry[] = [
  { anchor: 'postfix_smtpd_connects_total', mailfleet: 'mailfleet_postfix_smtpd_connects_total', log: (t) => t.kinds.smtpd_connect, note: 'anchor: only tags `postfix/<word>[pid]` (no submission/…, no postfix-mx/…)' },
  { anchor: 'postfix_smtpd_disconnects_total', mailfleet: 'mailfleet_postfix_smtpd_disconnects_total', log: (t) => t.kinds.smtpd_disconnect, note: '' },
  { anchor: 'postfix_smtpd_connections_lost_total', mailfleet: 'mailfleet_postfix_smtpd_connections_lost_total', log: (t) => t.kinds.smtpd_lost, note: 'anchor misses `after DATA (N bytes)`' },
  { anchor: 'postfix_smtpd_messages_processed_total', mailfleet: 'mailfleet_postfix_smtpd_messages_processed_total', log: (t) => t.kinds.smtpd_client, note: '' },
  { anchor: 'postfix_smtpd_messages_rejected_total', mailfleet: 'mailfleet_postfix_smtpd_rejects_total', log: (t) => t.kinds.smtpd_reject, note: 'anchor: `NOQUEUE: reject: RCPT` only; contract adds {stage}' },
  { anchor: 'postfix_smtpd_sasl_authentication_failures_total', mailfleet: 'mailfleet_postfix_smtpd_sasl_authentication_failures_total', log: (t) => t.kinds.smtpd_sasl_failure, note: 'failures happen on submission/smtpd, which the anchor cannot read' },
  { anchor: 'postfix_smtpd_tls_connections_total', mailfleet: 'mailfleet_postfix_smtpd_tls_connections_total', log: (t) => t.kinds.smtpd_tls, note: '' },
  { anchor: 'postfix_smtpd_forward_confirmed_reverse_dns_errors_total', mailfleet: 'mailfleet_postfix_smtpd_forward_confirmed_reverse_dns_errors_total', log: (t) => t.kinds.smtpd_fcrdns, note: '' },
  { anchor: 'postfix_cleanup_messages_processed_total', mailfleet: 'mailfleet_postfix_cleanup_messages_processed_total', log: (t) => t.kinds.cleanup_message_id, note: '' },
  { anchor: 'postfix_cleanup_messages_rejected_total', mailfleet: 'mailfleet_postfix_cleanup_messages_rejected_total', log: (t) => t.kinds.cleanup_reject, note: '' },
  { anchor: 'postfix_cleanup_messages_not_accepted_total', mailfleet: 'mailfleet_postfix_cleanup_messages_not_accepted_total', note: 'anchor never increments it' },
  { anchor: 'postfix_qmgr_messages_inserted_size_bytes', mailfleet: 'mailfleet_postfix_qmgr_inserted_size_bytes', log: (t) => t.kinds.qmgr_inserted, note: 'observations (histogram count)' },
  { anchor: 'postfix_qmgr_messages_inserted_size_bytes', mailfleet: 'mailfleet_postfix_qmgr_inserted_size_bytes', anchorSelector: { part: 'sum' }, mailfleetSelector: { part: 'sum' }, log: (t) => t.insertedBytes, note: 'bytes (histogram sum)' },
  { anchor: 'postfix_qmgr_messages_inserted_receipients', mailfleet: 'mailfleet_postfix_qmgr_inserted_recipients', anchorSelector: { part: 'sum' }, mailfleetSelector: { part: 'sum' }, log: (t) => t.insertedRecipients, note: 'recipients (histogram sum); anchor name misspelt' },
  { anchor: 'postfix_qmgr_messages_removed_total', mailfleet: 'mailfleet_postfix_qmgr_messages_removed_total', log: (t) => t.kinds.qmgr_removed, note: '' },
  { anchor: 'postfix_qmgr_messages_expired_total', mailfleet: 'mailfleet_postfix_qmgr_messages_expired_total', log: (t) => t.kinds.qmgr_expired, note: '' },
  { anchor: 'postfix_lmtp_delivery_delay_seconds', mailfleet: 'mailfleet_postfix_delivery_delay_seconds', anchorSelector: { labels: { stage: 'before_queue_manager' } }, mailfleetSelector: { labels: { transport: 'lmtp', stage: 'before_qmgr' } }, log: (t) => deliveriesOf(t, 'lmtp'), note: 'deliveries observed (one stage\'s count)' },
  { anchor: 'postfix_smtp_delivery_delay_seconds', mailfleet: 'mailfleet_postfix_delivery_delay_seconds', anchorDivisor: 4, mailfleetSelector: { labels: { transport: 'smtp', stage: 'before_qmgr' } }, log: (t) => deliveriesOf(t, 'smtp'), note: 'anchor defect: all four stages land in stage=""; its count ÷ 4' },
  { anchor: 'postfix_pipe_delivery_delay_seconds', mailfleet: 'mailfleet_postfix_delivery_delay_seconds', anchorSelector: { labels: { stage: 'before_queue_manager' } }, mailfleetSelector: { labels: { transport: 'pipe', stage: 'before_qmgr' } }, log: (t) => deliveriesOf(t, 'pipe'), note: '' },
  { anchor: 'postfix_smtp_status_deferred', mailfleet: 'mailfleet_postfix_deliveries_total', mailfleetSelector: { labels: { transport: 'smtp', status: 'deferred' } }, log: (t) => deliveriesOf(t, 'smtp', 'deferred'), note: '' },
  { anchor: 'postfix_smtp_deferred_messages_total', mailfleet: 'mailfleet_postfix_deferred_total', mailfleetSelector: { labels: { transport: 'smtp' } }, log: (t) => deliveriesOf(t, 'smtp', 'deferred'), note: 'anchor never increments it' },
  { anchor: 'postfix_smtp_tls_connections_total', mailfleet: 'mailfleet_postfix_smtp_tls_connections_total', log: (t) => t.kinds.smtp_tls, note: '' },
  { anchor: 'postfix_smtp_connection_timed_out_total', mailfleet: 'mailfleet_postfix_smtp_connection_timeouts_total', log: (t) => t.kinds.smtp_timeout, note: '' },
  { anchor: 'postfix_virtual_delivered_total', mailfleet: 'mailfleet_postfix_deliveries_total', mailfleetSelector: { labels: { transport: 'virtual' } }, log: (t) => deliveriesOf(t, 'virtual'), note: '' },
  { anchor: 'postfix_unsupported_log_entries_total', mailfleet: 'mailfleet_postfix_log_lines_unsupported_total', log: unsupportedLines, note: 'log: its well-formed lines no metric counts, and its hostile lines' },
  { anchor: 'postfix_showq_message_size_bytes', mailfleet: 'mailfleet_postfix_queue_message_size_bytes', note: 'from showq, not the log' },
  { anchor: 'postfix_showq_message_age_seconds', mailfleet: 'mailfleet_postfix_queue_message_age_seconds', note: 'from showq, not the log' },
  { anchor: 'postfix_up', mailfleet: 'mailfleet_postfix_queue_scrape_errors_total', note: 'showq reachable (the bench gives the anchor none)' },
  { anchor: 'opendkim_signatures_added_total', mailfleet: null, note: 'the platform runs no OpenDKIM' },
];

/** Contract families no anchor family covers, with what the log holds of their kind. */
const BEYOND_ANCHOR: readonly { mailfleet: string; log: (t: Totals) => number; note: string }[] = [
  { mailfleet: 'mailfleet_postfix_deliveries_total', log: (t) => deliveriesOf(t, '*'), note: 'every delivery by {transport,status}' },
  { mailfleet: 'mailfleet_postfix_bounced_total', log: (t) => deliveriesOf(t, '*', 'bounced'), note: '{transport,dsn,relay}' },
  { mailfleet: 'mailfleet_postfix_deferred_total', log: (t) => deliveriesOf(t, '*', 'deferred'), note: '{transport,dsn,relay}' },
  { mailfleet: 'mailfleet_postfix_bounce_notifications_total', log: (t) => t.kinds.bounce_notification, note: '' },
  { mailfleet: 'mailfleet_postfix_log_lines_total', log: (t) => t.lines, note: 'every line, read or not' },
];

export interface ParityRow {
  anchor: string;
  anchorTotal: number | undefined;
  mailfleet: string;
  mailfleetTotal: number | undefined;
  log: number | undefined;
  note: string;
}

/**
 * One row per entry whose anchor family the anchor exported in this run, then one per family it exported that
 * the table does not know (flagged). `ours` is undefined when mailfleet was not measured.
 */
export function parityRows(anchor: Families, ours: Families | undefined, t: Totals): ParityRow[] {
  const rows: ParityRow[] = [];
  for (const e of PARITY) {
    if (!anchor.has(e.anchor)) continue;
    const a = total(anchor, e.anchor, e.anchorSelector);
    rows.push({
      anchor: e.anchor,
      anchorTotal: a === undefined ? undefined : a / (e.anchorDivisor ?? 1),
      mailfleet: e.mailfleet ?? 'NO COUNTERPART',
      mailfleetTotal: e.mailfleet && ours ? total(ours, e.mailfleet, e.mailfleetSelector) : undefined,
      log: e.log?.(t),
      note: e.note,
    });
  }
  const known = new Set(PARITY.map((e) => e.anchor));
  for (const name of anchor.keys()) {
    if (!/^(postfix|opendkim)_/.test(name) || known.has(name)) continue;
    rows.push({ anchor: name, anchorTotal: total(anchor, name), mailfleet: 'UNMAPPED (add it to bench/exporter/parity.ts)', mailfleetTotal: undefined, log: undefined, note: '' });
  }
  return rows;
}

/**
 * Contract families the anchor did not export in this run: those no anchor family covers, and those whose
 * anchor family this anchor version lacks (`postfix_qmgr_messages_expired_total` is the fork's), where the log
 * holds lines of their kind.
 */
export function beyondAnchorRows(anchor: Families, ours: Families | undefined, t: Totals): ParityRow[] {
  const printed = new Set(PARITY.filter((e) => anchor.has(e.anchor)).map((e) => e.mailfleet));
  const missing = PARITY.filter((e) => !anchor.has(e.anchor) && e.mailfleet !== null && e.log !== undefined && e.log(t) > 0 && !printed.has(e.mailfleet))
    .map((e) => ({ mailfleet: e.mailfleet as string, log: e.log as (t: Totals) => number, note: `the fork's ${e.anchor}` }));
  return [...missing, ...BEYOND_ANCHOR].map((b) => ({
    anchor: '—', anchorTotal: undefined, mailfleet: b.mailfleet, mailfleetTotal: ours ? total(ours, b.mailfleet) : undefined, log: b.log(t), note: b.note,
  }));
}
