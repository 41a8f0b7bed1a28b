/**
 * What one Postfix log line says, as typed values (the events of `postfix-log.ts`). Every label-like
 * field is drawn from a closed set or checked for its shape, so a consumer can use it as a metric label;
 * free-form fields (relay host names) are left to the consumer to bound.
 */

/** Severity prefix of a Postfix message (`warning: …`); `info` when it has none. */
export type PostfixLogLevel = 'info' | 'warning' | 'error' | 'fatal' | 'panic';

/**
 * The Postfix program that logged the line: the last segment of its syslog tag (`postfix/submission/smtpd`,
 * `postfix-mx/smtpd` → `smtpd`). `other`: a syslog tag of a program that is not Postfix's; `unknown`: no
 * syslog tag could be found (noise, a truncated line).
 */
export type PostfixService = (typeof POSTFIX_DAEMONS)[number] | 'other' | 'unknown';

/** Programs of Postfix 3.x that log, by the name they log under. */
export const POSTFIX_DAEMONS = [
  'anvil', 'bounce', 'cleanup', 'discard', 'dnsblog', 'error', 'flush', 'lmtp', 'local', 'master', 'nqmgr', 'oqmgr',
  'pickup', 'pipe', 'postalias', 'postcat', 'postconf', 'postdrop', 'postfix', 'postfix-script', 'postkick', 'postlock',
  'postlog', 'postlogd', 'postmap', 'postmulti', 'postqueue', 'postscreen', 'postsuper', 'proxymap', 'qmgr', 'qmqpd',
  'scache', 'sendmail', 'showq', 'smtp', 'smtpd', 'spawn', 'tlsmgr', 'tlsproxy', 'trivial-rewrite', 'verify', 'virtual',
] as const;

/** SMTP stages Postfix names in reject, lost-connection and timeout lines; anything else is `other`. */
export const SMTP_STAGES = [
  'CONNECT', 'HELO', 'EHLO', 'STARTTLS', 'AUTH', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'END-OF-MESSAGE', 'RSET', 'NOOP',
  'VRFY', 'ETRN', 'QUIT', 'XCLIENT', 'XFORWARD', 'UNKNOWN', 'CONNECT-TLS',
] as const;
export type SmtpStage = (typeof SMTP_STAGES)[number] | 'other';

/**
 * Where in the SMTP session Postfix's milter client failed: `connect` (the TCP connection or the option
 * negotiation), `command` (connect, HELO, MAIL, RCPT, DATA events: `milter_command_timeout`), `content` (headers
 * and body: `milter_content_timeout`), `unknown` (the line does not say).
 */
export type MilterStage = 'connect' | 'command' | 'content' | 'unknown';
/**
 * Why: `refused` (nothing listens), `timeout`, `closed` (the milter hung up or reset the connection),
 * `protocol` (it answered something Postfix could not use), `other`.
 */
export type MilterFailureReason = 'refused' | 'timeout' | 'closed' | 'protocol' | 'other';

/** `status=` of a delivery line; `other` for a word Postfix 3.7 does not write. */
export type DeliveryStatus = 'sent' | 'deferred' | 'bounced' | 'expired' | 'deliverable' | 'undeliverable' | 'other';

/** The four parts of `delays=a/b/c/d`, in seconds. */
export interface DeliveryDelays {
  /** a: from arrival until the queue manager took the message (incl. time in the deferred queue). */
  readonly beforeQmgr: number;
  /** b: in the queue manager (waiting for a delivery agent). */
  readonly inQmgr: number;
  /** c: connection setup (DNS, HELO, TLS). */
  readonly connSetup: number;
  /** d: message transmission. */
  readonly transmission: number;
}

interface Common {
  readonly service: PostfixService;
  readonly level: PostfixLogLevel;
  /** The line was longer than the codec's bound and only its beginning was read. */
  readonly truncated: boolean;
}

/** A command of the `disconnect from …` summary: `rcpt=0/1` → accepted 0 of 1. */
export interface SmtpdCommandCount {
  readonly command: string;
  readonly accepted: number;
  readonly total: number;
}

/** Actions Postfix logs for an access restriction or milter verdict (`NOQUEUE: reject: RCPT from …`). */
export type SmtpdAction =
  | 'reject' | 'milter-reject' | 'reject_warning' | 'discard' | 'milter-discard' | 'hold' | 'milter-hold' | 'filter'
  | 'redirect' | 'warn' | 'info' | 'bcc';

/** Header/body checks and milter actions cleanup logs (`QID: hold: header Subject: …`). */
export type CleanupAction =
  | 'hold' | 'discard' | 'redirect' | 'filter' | 'warning' | 'info' | 'replace' | 'prepend' | 'strip' | 'bcc'
  | 'milter-hold' | 'milter-discard';

/**
 * What postscreen did with a client: `connect`; `pass_new` (passed its tests, handed to smtpd), `pass_old` (passed
 * before, still cached: handed over at once); `pregreet` (talked before its turn); `hangup` (left during the
 * tests); `disconnect` (its session with postscreen ended); `allowlisted`/`denylisted` (its address is on the
 * access list), `allowlist_veto` (allowlisted by a blocklist score, but a test failed); the tests after the
 * greeting (`pipelining`, `non_smtp_command`, `bare_newline`) and its limits (`command_time_limit`,
 * `command_count_limit`, `command_length_limit`); `data_without_rcpt`.
 */
export type PostscreenAction =
  | 'connect' | 'pass_new' | 'pass_old' | 'pregreet' | 'hangup' | 'disconnect' | 'allowlisted' | 'denylisted' | 'allowlist_veto'
  | 'pipelining' | 'non_smtp_command' | 'bare_newline' | 'command_time_limit' | 'command_count_limit' | 'command_length_limit'
  | 'data_without_rcpt';
export const POSTSCREEN_ACTIONS: readonly PostscreenAction[] = [
  'connect', 'pass_new', 'pass_old', 'pregreet', 'hangup', 'disconnect', 'allowlisted', 'denylisted', 'allowlist_veto',
  'pipelining', 'non_smtp_command', 'bare_newline', 'command_time_limit', 'command_count_limit', 'command_length_limit',
  'data_without_rcpt',
];

/**
 * Why postscreen refused a client: `dnsbl` (blocklist score at the threshold), `protocol` (a failed test:
 * pregreet, pipelining, …), `connection_limit` (too many connections from its address), `busy` (every port or
 * smtpd process taken), `unavailable` (passed tests after the greeting: try again, or denied), `other`.
 */
export type PostscreenRejectReason = 'dnsbl' | 'protocol' | 'connection_limit' | 'busy' | 'unavailable' | 'other';
export const POSTSCREEN_REJECT_REASONS: readonly PostscreenRejectReason[] = ['dnsbl', 'protocol', 'connection_limit', 'busy', 'unavailable', 'other'];

export type PostfixLogEvent = Common & (
  | { readonly kind: 'smtpd-connect' }
  | { readonly kind: 'smtpd-disconnect'; readonly commands: readonly SmtpdCommandCount[] }
  | { readonly kind: 'smtpd-lost-connection'; readonly afterStage: SmtpStage }
  | { readonly kind: 'smtpd-timeout'; readonly afterStage: SmtpStage }
  | { readonly kind: 'smtpd-protocol-violation'; readonly violation: 'improper-pipelining' | 'too-many-errors'; readonly afterStage: SmtpStage }
  /** `QID: client=…[, sasl_method=PLAIN, sasl_username=…]`: smtpd accepted a message (it has a queue ID). */
  | { readonly kind: 'smtpd-message'; readonly queueId: string; readonly saslMethod: string | undefined }
  /**
   * `NOQUEUE: reject: RCPT from …: 554 5.7.1 …` and the like at every stage; `code` is the three-digit
   * reply, `dsn` the enhanced status code, each undefined when absent or malformed.
   */
  | { readonly kind: 'smtpd-action'; readonly action: SmtpdAction; readonly stage: SmtpStage; readonly code: string | undefined; readonly dsn: string | undefined; readonly queueId: string | undefined }
  | { readonly kind: 'smtpd-sasl-failure'; readonly method: string }
  /** `Anonymous TLS connection established from …: TLSv1.3 with cipher …`. */
  | { readonly kind: 'smtpd-tls'; readonly trust: string; readonly protocol: string; readonly cipher: string }
  /** The client's reverse name does not resolve back to its address (forward-confirmed reverse DNS). */
  | { readonly kind: 'smtpd-fcrdns-error' }
  /**
   * `QID: to=<…>, relay=…, delay=…, delays=a/b/c/d, dsn=…, status=…` of any delivery agent; `transport`
   * is the agent (smtp, lmtp, pipe, virtual, local, error, discard, …), `relay` the next hop's host name
   * without `[address]:port` (`none` when Postfix says so).
   */
  | { readonly kind: 'delivery'; readonly queueId: string; readonly transport: PostfixService; readonly relay: string; readonly delay: number; readonly delays: DeliveryDelays | undefined; readonly dsn: string | undefined; readonly status: DeliveryStatus }
  | { readonly kind: 'smtp-tls'; readonly trust: string; readonly protocol: string; readonly cipher: string }
  /** `connect to host[addr]:port: Connection refused` (or timed out: `timedOut`). */
  | { readonly kind: 'smtp-connect-failed'; readonly timedOut: boolean }
  | { readonly kind: 'qmgr-insert'; readonly queueId: string; readonly size: number; readonly recipients: number }
  | { readonly kind: 'qmgr-removed'; readonly queueId: string }
  /** `status=expired, returned to sender` (or `force-expired` after `postsuper -e`: `forced`). */
  | { readonly kind: 'qmgr-expired'; readonly queueId: string; readonly forced: boolean }
  | { readonly kind: 'cleanup-message'; readonly queueId: string; readonly resent: boolean }
  /** A message refused at its end by a milter or a header/body check: the stage (END-OF-MESSAGE) and the DSN, no reply code. */
  | { readonly kind: 'cleanup-reject'; readonly queueId: string; readonly milter: boolean; readonly stage: SmtpStage; readonly dsn: string | undefined }
  | { readonly kind: 'cleanup-action'; readonly queueId: string; readonly action: CleanupAction }
  /** cleanup gave up on a message it could not take (`… -- message not accepted, try again later`). */
  | { readonly kind: 'cleanup-not-accepted' }
  | { readonly kind: 'bounce-notification'; readonly queueId: string; readonly notification: BounceNotification }
  | { readonly kind: 'pickup'; readonly queueId: string }
  | { readonly kind: 'master'; readonly what: 'started' | 'reloaded' | 'stopping' }
  | { readonly kind: 'postsuper'; readonly action: 'hold' | 'release' | 'expire' | 'remove' | 'requeue' | 'summary' }
  | { readonly kind: 'statistics' }
  /**
   * Postfix's milter client failed (smtpd or cleanup): it acts on `milter_default_action` (accept: the message
   * goes on unscanned; tempfail: 4xx), which the line does not name.
   */
  | { readonly kind: 'milter-failure'; readonly stage: MilterStage; readonly reason: MilterFailureReason }
  /** A milter warning that repeats a failure already logged (`read error in initial handshake`). */
  | { readonly kind: 'milter-warning' }
  | { readonly kind: 'postscreen-action'; readonly action: PostscreenAction }
  /** `DNSBL rank N for [addr]:port`: the client's blocklist score (logged when it is listed at all). */
  | { readonly kind: 'postscreen-dnsbl-rank'; readonly rank: number }
  /** `NOQUEUE: reject: RCPT from [addr]:port: 550 5.7.1 …`: postscreen refused the client (at CONNECT or RCPT). */
  | { readonly kind: 'postscreen-reject'; readonly stage: SmtpStage; readonly reason: PostscreenRejectReason; readonly code: string | undefined; readonly dsn: string | undefined }
  /** dnsblog: a blocklist lists a client (`domain` lower-cased, letters, digits, dots and dashes only). */
  | { readonly kind: 'dnsbl-listed'; readonly domain: string }
  /** A line the codec does not understand. */
  | { readonly kind: 'unsupported' }
);

export type BounceNotification =
  | 'sender non-delivery' | 'postmaster non-delivery' | 'sender delivery status' | 'sender delay' | 'postmaster delay';

export type PostfixLogEventKind = PostfixLogEvent['kind'];
