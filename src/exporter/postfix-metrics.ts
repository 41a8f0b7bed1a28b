/**
 * The Postfix metrics (names fixed by the platform's metrics contract), registered in a caller's
 * registry so the agent can mount them beside its own. Log metrics here; queue metrics in `queue.ts`.
 */
import { Counter, Histogram, type Registry } from '../metrics/index.ts';

/** Delivery delay buckets: 1 ms to 2 days. */
export const DELAY_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14_400, 43_200, 86_400, 172_800];
/** Message size buckets: 1 kB to 1 GB. */
export const SIZE_BUCKETS_BYTES = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const RECIPIENT_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000];
/** Blocklist scores: weights are small whole numbers, thresholds a few of them. */
const RANK_BUCKETS = [1, 2, 3, 4, 5, 8, 13, 21];

export interface PostfixLogMetrics {
  lines: Counter<'service'>;
  unsupported: Counter<'service' | 'level'>;
  truncated: Counter<'service'>;
  smtpdConnects: Counter;
  smtpdDisconnects: Counter;
  smtpdLost: Counter<'after_stage'>;
  smtpdMessages: Counter<'sasl_method'>;
  smtpdRejects: Counter<'stage' | 'code'>;
  smtpdSaslFailures: Counter;
  smtpdTls: Counter<'protocol' | 'cipher'>;
  smtpdFcrdns: Counter;
  deliveries: Counter<'transport' | 'status'>;
  delay: Histogram<'transport' | 'stage'>;
  deferred: Counter<'transport' | 'dsn' | 'relay'>;
  bounced: Counter<'transport' | 'dsn' | 'relay'>;
  smtpTls: Counter<'trust' | 'protocol' | 'cipher'>;
  smtpTimeouts: Counter;
  qmgrInserted: Counter;
  qmgrRecipients: Histogram;
  qmgrSize: Histogram;
  qmgrRemoved: Counter;
  qmgrExpired: Counter;
  cleanupProcessed: Counter;
  cleanupRejected: Counter;
  cleanupNotAccepted: Counter;
  bounceNotifications: Counter;
  milterFailures: Counter<'stage' | 'reason'>;
  postscreenActions: Counter<'action'>;
  postscreenRejects: Counter<'reason' | 'code'>;
  postscreenDnsblRank: Histogram;
  dnsblListings: Counter<'domain'>;
}

/** `collect` runs before the counters are read at a scrape (the exporter hands them its tallies there). */
export function createPostfixLogMetrics(registry: Registry, collect: () => void): PostfixLogMetrics {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
    new Counter({ name: `mailfleet_postfix_${name}`, help, labelNames, registers, collect });
  return {
    lines: counter('log_lines_total', 'Postfix log lines read, by service (the daemon: smtpd, qmgr, …; other: not a Postfix program; unknown: no syslog tag).', ['service']),
    unsupported: counter('log_lines_unsupported_total', 'Postfix log lines not understood, by service and severity.', ['service', 'level']),
    truncated: counter('log_lines_truncated_total', 'Postfix log lines longer than 64 KiB, of which only the beginning was read.', ['service']),
    smtpdConnects: counter('smtpd_connects_total', 'SMTP server connections opened.'),
    smtpdDisconnects: counter('smtpd_disconnects_total', 'SMTP server connections closed.'),
    smtpdLost: counter('smtpd_connections_lost_total', 'SMTP server connections the client dropped, by the stage it dropped them after.', ['after_stage']),
    smtpdMessages: counter('smtpd_messages_processed_total', 'Messages the SMTP server accepted, by SASL method (none: not authenticated).', ['sasl_method']),
    smtpdRejects: counter('smtpd_rejects_total', 'SMTP server rejections (reject and milter-reject), by stage and reply code.', ['stage', 'code']),
    smtpdSaslFailures: counter('smtpd_sasl_authentication_failures_total', 'SMTP AUTH attempts that failed.'),
    smtpdTls: counter('smtpd_tls_connections_total', 'TLS sessions the SMTP server established, by protocol and cipher.', ['protocol', 'cipher']),
    smtpdFcrdns: counter('smtpd_forward_confirmed_reverse_dns_errors_total', 'Clients whose reverse DNS name does not resolve back to their address.'),
    deliveries: counter('deliveries_total', 'Delivery attempts per recipient, by delivery agent and status.', ['transport', 'status']),
    delay: new Histogram({
      name: 'mailfleet_postfix_delivery_delay_seconds',
      help: 'Delivery delay per recipient by stage (before_qmgr, in_qmgr, conn_setup, transmission), from delays=a/b/c/d; deferred attempts are not observed (their before_qmgr counts the time in the deferred queue again on every retry).',
      labelNames: ['transport', 'stage'],
      buckets: DELAY_BUCKETS_SECONDS,
      registers,
    }),
    deferred: counter('deferred_total', 'Deferred delivery attempts, by delivery agent, enhanced status code and next hop.', ['transport', 'dsn', 'relay']),
    bounced: counter('bounced_total', 'Bounced recipients, by delivery agent, enhanced status code and next hop.', ['transport', 'dsn', 'relay']),
    smtpTls: counter('smtp_tls_connections_total', 'TLS sessions the SMTP/LMTP client established, by trust, protocol and cipher.', ['trust', 'protocol', 'cipher']),
    smtpTimeouts: counter('smtp_connection_timeouts_total', 'SMTP/LMTP client connection attempts that timed out.'),
    qmgrInserted: counter('qmgr_messages_inserted_total', 'Messages the queue manager took into the active queue.'),
    qmgrRecipients: new Histogram({
      name: 'mailfleet_postfix_qmgr_inserted_recipients',
      help: 'Recipients per message the queue manager took into the active queue.',
      buckets: RECIPIENT_BUCKETS,
      registers,
    }),
    qmgrSize: new Histogram({
      name: 'mailfleet_postfix_qmgr_inserted_size_bytes',
      help: 'Size of the messages the queue manager took into the active queue.',
      buckets: SIZE_BUCKETS_BYTES,
      registers,
    }),
    qmgrRemoved: counter('qmgr_messages_removed_total', 'Messages removed from the queue (delivered, bounced or deleted).'),
    qmgrExpired: counter('qmgr_messages_expired_total', 'Messages returned to the sender because they stayed queued too long (or were force-expired).'),
    cleanupProcessed: counter('cleanup_messages_processed_total', 'Messages the cleanup daemon processed (one message-id line each).'),
    cleanupRejected: counter('cleanup_messages_rejected_total', 'Messages cleanup rejected (header/body checks, milters).'),
    cleanupNotAccepted: counter('cleanup_messages_not_accepted_total', 'Messages cleanup could not take (e.g. an unreasonable alias expansion).'),
    bounceNotifications: counter('bounce_notifications_total', 'Non-delivery notifications the bounce daemon sent (to the sender or the postmaster).'),
    milterFailures: counter(
      'milter_failures_total',
      'Times Postfix could not ask its milter (the filter) and acted on milter_default_action instead (accept: the message went on unscanned; tempfail: 4xx), by stage (connect, command, content, unknown) and reason (refused, timeout, closed, protocol, other).',
      ['stage', 'reason'],
    ),
    postscreenActions: counter(
      'postscreen_actions_total',
      'What postscreen did with its clients, by action: connect, pass_new (passed its tests, handed to smtpd), pass_old (passed before: handed over at once), pregreet (talked before its turn), hangup (left during the tests), disconnect, allowlisted, denylisted, allowlist_veto, the tests after the greeting (pipelining, non_smtp_command, bare_newline), its limits (command_time_limit, command_count_limit, command_length_limit), data_without_rcpt.',
      ['action'],
    ),
    postscreenRejects: counter(
      'postscreen_rejects_total',
      'Clients postscreen refused, by reason (dnsbl, protocol: a failed test such as pregreet, connection_limit, busy: every port taken, unavailable, other) and reply code (none: the line names none).',
      ['reason', 'code'],
    ),
    postscreenDnsblRank: new Histogram({
      name: 'mailfleet_postfix_postscreen_dnsbl_rank',
      help: 'Blocklist scores postscreen computed for listed clients (sum of the weights of the lists that list them).',
      buckets: RANK_BUCKETS,
      registers,
    }),
    dnsblListings: counter('dnsbl_listings_total', 'Clients a DNS blocklist listed (dnsblog, answering postscreen), by the list\'s domain.', ['domain']),
  };
}
