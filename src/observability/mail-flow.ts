/**
 * Mail pack, first half: what users notice. The synthetic transaction, the Postfix queues, delivery
 * outcomes, SMTP rejects and the policy server. Metric names are the platform's contract (agent,
 * log exporter, prober). Thresholds are sized for an ISP: thousands of messages an hour per MTA, a
 * steady background of deferrals to dead or greylisting domains, most inbound connections spam.
 */
import type { AlertRule, RuleGroup, Scope } from './rule.ts';

const MIN = 60;
const HOUR = 3600;
const WHO = '{{ $labels.role }} {{ $labels.instance }}';

/**
 * The probe runs a full transaction about once a minute; it normally takes a few seconds. Half a
 * minute on average means mail is queueing somewhere; five minutes is what users call "mail is slow".
 */
const PROBE_LATENCY_WARNING_S = 30;
const PROBE_LATENCY_CRITICAL_S = 300;
/** Long enough for a probe whose cycles hang (the success gauge then keeps its last value). */
const PROBE_STALE_S = 30 * MIN;
/**
 * An ISP MTA keeps a few hundred deferred messages at any time (dead domains, greylisting, full
 * mailboxes elsewhere). A thousand for half an hour means a large destination or our own egress is
 * blocked; ten thousand, that outbound mail is effectively stopped.
 */
const DEFERRED_WARNING = 1000;
const DEFERRED_CRITICAL = 10000;
/** Growth that is more than a burst: 500 more messages an hour, sustained, in a queue already above 500. */
const QUEUE_GROWTH_PER_HOUR = 500;
const QUEUE_GROWTH_FLOOR = 500;
/** pickup and cleanup move a message out of maildrop and incoming in seconds; a quarter of an hour is a wedge. */
const INTAKE_STUCK_S = 15 * MIN;
/** A message waits in active only for a delivery slot; an hour means deliveries hang. */
const ACTIVE_STUCK_S = HOUR;
/**
 * Remote deferrals run at 5–15 % at an ISP (greylisting, rate limits of big providers); a third of all
 * outbound attempts deferring means a blocklisting or broken DNS. Bounces above 10 % mean the same,
 * or an account sending spam to harvested addresses. Both need a minimum count so that two messages
 * at night cannot page anyone.
 */
const REMOTE_DEFERRED_RATIO = 0.3;
const BOUNCE_RATIO = 0.1;
const OUTCOME_MIN_COUNT = 50;
/** LMTP to our own mailbox tier should never defer: 10 % (and at least 10 messages) is an outage in the making. */
const LOCAL_DEFERRED_RATIO = 0.1;
const LOCAL_DEFERRED_MIN_COUNT = 10;
/**
 * Rejects are compared with the same half hour a day earlier, per role: most of an MX's connections are
 * rejected spam, so only a change says something. Doubling (with at least 5 % of connections rejected)
 * points at a broken lookup or a false-positive blocklist; falling to a third points at anti-spam checks
 * that silently stopped (DNSBL lookups timing out). Quiet roles (under 6 connections a minute) are left out.
 */
const REJECT_RISE = 2;
const REJECT_RISE_FLOOR = 0.05;
const REJECT_FALL = 1 / 3;
const REJECT_FALL_BASE = 0.1;
const REJECT_MIN_CONNECTS_PER_S = 0.1;
/**
 * 451 is Postfix's "temporary lookup failure" (LDAP or Redis unreachable) and the policy server's
 * default action when it cannot be asked: our own side failing, not the sender's. 1 % is a warning,
 * 10 % (and at least 10 in a quarter hour) critical.
 */
const TEMPFAIL_WARNING = 0.01;
const TEMPFAIL_CRITICAL = 0.1;
const TEMPFAIL_MIN_COUNT = 10;

function probe(s: Scope): AlertRule[] {
  const duration = (w: string) => `rate(${s.sel('mailfleet_probe_duration_seconds_sum')}[${w}]) / rate(${s.sel('mailfleet_probe_duration_seconds_count')}[${w}])`;
  const latency = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'MailfleetProbeLatencyHigh',
    expr: `${duration('15m')} > ${limit}`,
    forSeconds: 15 * MIN,
    severity,
    summary: `Synthetic {{ $labels.path }} transaction slow from probe {{ $labels.instance }}`,
    description: `Submission to fetch by IMAP and POP3 on the {{ $labels.path }} path takes {{ $value | humanizeDuration }} on average (limit ${limit}s): mail is queueing on the way.`,
    runbook: 'mailfleet_probe_stage_duration_seconds shows the slow stage; then check the queues of the msa/mta and the proxy LMTP router.',
  });
  return [
    {
      alert: 'MailfleetProbeFailing',
      expr: `${s.sel('mailfleet_probe_success')} == 0`,
      forSeconds: 5 * MIN,
      severity: 'critical',
      summary: 'Synthetic {{ $labels.path }} transaction failing from probe {{ $labels.instance }}',
      description: 'The probe cannot submit a message on the {{ $labels.path }} path and fetch it by IMAP and POP3: users on that path cannot send or read mail.',
      runbook: 'mailfleet_probe_failures_total{path,stage} names the failing stage; check that stage\'s role (msa/mta, proxy, mailbox) and its logs.',
    },
    {
      alert: 'MailfleetProbeNoRecentSuccess',
      expr: `time() - ${s.sel('mailfleet_probe_last_success_timestamp_seconds')} > ${PROBE_STALE_S}`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'No synthetic {{ $labels.path }} transaction succeeded lately on probe {{ $labels.instance }}',
      description: 'The last successful {{ $labels.path }} transaction was {{ $value | humanizeDuration }} ago: either mail fails or the probe hangs.',
      runbook: 'Compare with MailfleetProbeFailing; if that is quiet, the probe\'s cycles hang: check its logs and restart it.',
    },
    latency('warning', PROBE_LATENCY_WARNING_S),
    latency('critical', PROBE_LATENCY_CRITICAL_S),
  ];
}

function queues(s: Scope): AlertRule[] {
  const q = (queues: string) => s.sel('mailfleet_postfix_queue_messages', `queue=~"${queues}"`);
  const deferred = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'MailfleetQueueDeferredLarge',
    expr: `${s.sel('mailfleet_postfix_queue_messages', 'queue="deferred"')} > ${limit}`,
    forSeconds: 30 * MIN,
    severity,
    summary: `Deferred queue of ${WHO} holds {{ $value }} messages`,
    description: `More than ${limit} messages wait for a retry on ${WHO}: a destination or our own egress refuses mail.`,
    runbook: 'mailfleet_postfix_deferred_total{relay,dsn} names the destinations and reasons; check blocklists for the egress IPs and DNS.',
  });
  const stuck = (alert: string, queues: string, limit: number, severity: 'warning' | 'critical', what: string): AlertRule => ({
    alert,
    expr: `${s.sel('mailfleet_postfix_queue_oldest_message_age_seconds', `queue=~"${queues}"`)} > ${limit}`,
    forSeconds: 5 * MIN,
    severity,
    summary: `A message is stuck in the {{ $labels.queue }} queue of ${WHO}`,
    description: `The oldest message in {{ $labels.queue }} is {{ $value | humanizeDuration }} old: ${what}.`,
    runbook: 'postqueue -p and the Postfix log of the instance; restart the instance if qmgr or pickup hangs.',
  });
  return [
    deferred('warning', DEFERRED_WARNING),
    deferred('critical', DEFERRED_CRITICAL),
    {
      alert: 'MailfleetQueueGrowing',
      expr: `deriv(${q('incoming|active|deferred')}[1h]) * 3600 > ${QUEUE_GROWTH_PER_HOUR} and ${q('incoming|active|deferred')} > ${QUEUE_GROWTH_FLOOR}`,
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: `The {{ $labels.queue }} queue of ${WHO} keeps growing`,
      description: 'It grows by {{ $value | humanize }} messages an hour: more mail comes in than goes out.',
      runbook: 'Compare deliveries and deferrals by transport; if inbound is flooding, check the policy server\'s limits.',
    },
    stuck('MailfleetQueueIntakeStuck', 'maildrop|incoming', INTAKE_STUCK_S, 'critical', 'Postfix pickup, cleanup or qmgr has stopped taking in new mail'),
    stuck('MailfleetQueueActiveStuck', 'active', ACTIVE_STUCK_S, 'warning', 'deliveries from the active queue hang'),
    {
      alert: 'MailfleetQueueScrapeFailing',
      expr: `rate(${s.sel('mailfleet_postfix_queue_scrape_errors_total')}[5m]) > 0`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: `Queue of ${WHO} cannot be read`,
      description: 'The agent cannot read the queue from showq: the queue metrics and their alerts are blind.',
      runbook: 'The agent\'s log says why showq failed; check that Postfix runs and its public/showq socket is readable.',
    },
  ];
}

function deliveries(s: Scope): AlertRule[] {
  const d = (matchers: string) => s.sel('mailfleet_postfix_deliveries_total', matchers);
  const sumRate = (matchers: string, w: string) => `sum without (status) (rate(${d(matchers)}[${w}]))`;
  const sumIncrease = (matchers: string, w: string) => `sum without (status) (increase(${d(matchers)}[${w}]))`;
  const ratio = (part: string, whole: string, w: string, limit: number, min: number) =>
    `${sumRate(part, w)} / ${sumRate(whole, w)} > ${limit} and ${sumIncrease(part, w)} >= ${min}`;
  return [
    {
      alert: 'MailfleetLocalDeliveryDeferring',
      expr: ratio('transport="lmtp",status="deferred"', 'transport="lmtp"', '15m', LOCAL_DEFERRED_RATIO, LOCAL_DEFERRED_MIN_COUNT),
      forSeconds: 10 * MIN,
      severity: 'critical',
      summary: `${WHO} cannot deliver to the mailboxes`,
      description: '{{ $value | humanizePercentage }} of LMTP deliveries to the proxy are deferred: inbound mail piles up in the queue.',
      runbook: 'Check the proxy LMTP router (refusals, slot timeouts), the director\'s backends and the mailbox instances.',
    },
    {
      alert: 'MailfleetRemoteDeferredRateHigh',
      expr: ratio('transport="smtp",status="deferred"', 'transport="smtp"', '30m', REMOTE_DEFERRED_RATIO, OUTCOME_MIN_COUNT),
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: `${WHO} defers much of its outbound mail`,
      description: '{{ $value | humanizePercentage }} of SMTP deliveries are deferred: a blocklisting of the egress IPs, or DNS trouble.',
      runbook: 'mailfleet_postfix_deferred_total{relay,dsn} names the destinations; check blocklists and the resolver.',
    },
    {
      alert: 'MailfleetBounceRateHigh',
      expr: ratio('status=~"bounced|expired"', '', '30m', BOUNCE_RATIO, OUTCOME_MIN_COUNT),
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: `${WHO} bounces much of its {{ $labels.transport }} mail`,
      description: '{{ $value | humanizePercentage }} of {{ $labels.transport }} deliveries bounce or expire: a blocklisting, a broken lookup, or an account sending to harvested addresses.',
      runbook: 'mailfleet_postfix_bounced_total{relay,dsn} names the destinations and reasons; look for one sender in the logs.',
    },
  ];
}

function rejects(s: Scope): AlertRule[] {
  const byRole = (metric: string, w: string, offset = '') => `sum by (namespace, role) (rate(${s.sel(metric)}[${w}]${offset}))`;
  const ratio = (offset = '') => `(${byRole('mailfleet_postfix_smtpd_rejects_total', '30m', offset)} / ${byRole('mailfleet_postfix_smtpd_connects_total', '30m', offset)})`;
  const busy = `${byRole('mailfleet_postfix_smtpd_connects_total', '30m')} > ${REJECT_MIN_CONNECTS_PER_S}`;
  const perInstance = (metric: string, matchers?: string) => `sum without (stage, code) (rate(${s.sel(metric, matchers)}[15m]))`;
  const tempfail = (severity: 'warning' | 'critical', limit: number): AlertRule => ({
    alert: 'MailfleetSmtpdTemporaryFailures',
    expr: `${perInstance('mailfleet_postfix_smtpd_rejects_total', 'code="451"')} / ${perInstance('mailfleet_postfix_smtpd_connects_total')} > ${limit}`
      + ` and sum without (stage, code) (increase(${s.sel('mailfleet_postfix_smtpd_rejects_total', 'code="451"')}[15m])) >= ${TEMPFAIL_MIN_COUNT}`,
    forSeconds: 10 * MIN,
    severity,
    summary: `${WHO} answers 451 to {{ $value | humanizePercentage }} of connections`,
    description: 'Postfix tells clients to retry because a lookup of its own failed (LDAP, Redis, the policy server): senders are being turned away.',
    runbook: 'grep "451" in the instance\'s log for the failing table; check the ldap and kvs roles and the policy server.',
  });
  return [
    {
      alert: 'MailfleetRejectRateHigh',
      expr: `${ratio()} > ${REJECT_RISE} * ${ratio(' offset 1d')} and ${ratio()} > ${REJECT_RISE_FLOOR} and ${busy}`,
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: 'The {{ $labels.role }} role rejects {{ $value | humanizePercentage }} of connections, over twice as many as a day ago',
      description: 'Rejects per connection of every {{ $labels.role }} instance doubled against the same time yesterday: a broken lookup, a false-positive blocklist or a spam run.',
      runbook: 'mailfleet_postfix_smtpd_rejects_total{stage,code} shows which restriction rejects; compare with the logs of one instance.',
    },
    {
      alert: 'MailfleetRejectRateLow',
      expr: `${ratio()} < ${REJECT_FALL.toFixed(3)} * ${ratio(' offset 1d')} and ${ratio(' offset 1d')} > ${REJECT_FALL_BASE} and ${busy}`,
      forSeconds: HOUR,
      severity: 'warning',
      summary: 'The {{ $labels.role }} role rejects only {{ $value | humanizePercentage }} of connections, under a third of a day ago',
      description: 'Rejects per connection of every {{ $labels.role }} instance fell sharply against the same time yesterday: the spam filter (rspamd, its DNS lists) or the recipient checks may have stopped working and spam is getting in.',
      runbook: 'Check the rejects by stage (END-OF-MESSAGE: rspamd; RCPT: recipients, policy), MailfleetMilterFailingOpen, and the resolver rspamd asks for its DNS lists (timeouts count as "not listed").',
    },
    tempfail('warning', TEMPFAIL_WARNING),
    tempfail('critical', TEMPFAIL_CRITICAL),
  ];
}

/** The policy server answering without asking Redis (its fail-open counter `metric` moved) for five minutes: flow control or login checks. */
function policyFailingOpen(s: Scope, alert: string, metric: string, summary: string, description: string): AlertRule {
  return {
    alert,
    expr: `sum without (reason) (increase(${s.sel(metric)}[5m])) > 0`,
    forSeconds: 5 * MIN,
    severity: 'warning',
    summary,
    description,
    runbook: `${metric}{reason} says why (redis_down, timeout, overload, error); the policy server's log has the detail (its store, kvs, is usually the cause).`,
  };
}

/**
 * The policy server: one that answers without checking (Redis down or slow, overload), and none answering at
 * all. Either way Postfix lets the mail through (`default_action=DUNNO`): flow control is off, mail flows.
 * `runs`: whether the spec runs it (the rule for its absence exists only then).
 */
function policy(s: Scope, runs: boolean): AlertRule[] {
  const up = s.sel('up', 'role="policy"');
  return [
    policyFailingOpen(s, 'MailfleetPolicyFailingOpen', 'mailfleet_policy_fail_open_total', 'Policy server {{ $labels.instance }} lets mail through unchecked',
      'It answered {{ $value | humanize }} requests in five minutes with its default action without checking them: flow control is off and a flood would get in.'),
    ...(runs
      ? [{
          alert: 'MailfleetPolicyDown',
          expr: `max by (namespace, role) (${up}) == 0 or absent(${up})`,
          forSeconds: 5 * MIN,
          severity: 'warning' as const,
          summary: 'No {{ $labels.role }} instance answers: inbound and submitted mail is not rate-limited',
          description: 'Every policy server is down or unscraped; mta and msa let every request through unchecked (default_action=DUNNO), so a flood would get in.',
          runbook: 'mailfleet status (single host) or kubectl get pods -l app.kubernetes.io/component=policy; then the policy server\'s log (a bad rules file or an unreachable kvs stops it at start).',
        }]
      : []),
  ];
}

/** Refused or delayed logins in ten minutes, all proxies together, that make a brute-force wave worth a look. */
const LOGIN_REFUSALS_WAVE = 500;

/**
 * Brute-force protection of logins: the auth policy letting logins through unchecked (Redis down or slow), and a
 * wave of logins refused by its rules (an attack under way, or a rule refusing honest clients).
 */
function loginPolicy(s: Scope): AlertRule[] {
  const refused = s.sel('mailfleet_policy_auth_requests_total', 'command="allow",verdict=~"reject|tarpit"');
  return [
    policyFailingOpen(s, 'MailfleetLoginPolicyFailingOpen', 'mailfleet_policy_auth_fail_open_total', 'Policy server {{ $labels.instance }} lets logins through unchecked',
      'It answered {{ $value | humanize }} login checks or reports in five minutes without asking Redis: failed logins are not counted and a password-guessing attack would not be stopped.'),
    {
      alert: 'MailfleetLoginBruteForce',
      expr: `sum without (instance, pod, command, verdict) (increase(${refused}[10m])) > ${LOGIN_REFUSALS_WAVE}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: 'Auth rule {{ $labels.rule }} of the {{ $labels.role }} servers refused or delayed {{ $value | humanize }} logins in ten minutes',
      description: 'A password-guessing wave against the platform (IMAP, POP3 or SMTP AUTH) is being held back by the rule, or the rule refuses honest clients (a NAT gateway, a broken client retrying).',
      runbook: 'The policy server\'s log names a refused login and address per rule and interval; mailfleet_policy_auth_failures_counted_total{rule} shows the failures behind it. Exempt a network that is yours (spec.policy.auth.exempt) rather than raising the limits.',
    },
  ];
}

/** Quota questions in ten minutes answered unchecked, and their share, past which the check counts as broken. */
const QUOTA_FAIL_OPEN_MIN = 10;
const QUOTA_FAIL_OPEN_SHARE = 0.05;

/**
 * The mta's quota check at RCPT: a proxy's relay answering DUNNO because it could not ask (director, backend or its
 * quota-status down or slow). Mail still flows; mail for full mailboxes is accepted and bounced later (backscatter).
 */
function quotaCheck(s: Scope): AlertRule[] {
  const failed = `sum without (reason) (increase(${s.sel('mailfleet_quota_relay_fail_open_total')}[10m]))`;
  const asked = `sum without (answer) (increase(${s.sel('mailfleet_quota_relay_requests_total')}[10m]))`;
  return [{
    alert: 'MailfleetQuotaCheckFailingOpen',
    expr: `(${failed} > ${QUOTA_FAIL_OPEN_MIN}) and (${failed} / ${asked} > ${QUOTA_FAIL_OPEN_SHARE})`,
    forSeconds: 10 * MIN,
    severity: 'warning',
    summary: 'Quota relay {{ $labels.instance }} lets recipients through unchecked',
    description: 'More than 5% of the mta\'s quota questions to it in ten minutes were answered DUNNO because it could not ask the mailbox backend: mail for full mailboxes is accepted and bounced later, to senders that are often forged (backscatter).',
    runbook: 'mailfleet_quota_relay_fail_open_total{reason} says why (lookup: the director; connect, timeout, closed, protocol, backend_error: the backend\'s quota-status; busy, deadline: the relay itself); the proxy agent\'s log names the backend.',
  }];
}

/** `quotaChecked`: whether the mta asks the quota relay (`spec.quota.checkAtRcpt`); its rule exists only then. */
export function mailFlowGroups(s: Scope, opts: { policyRuns: boolean; quotaChecked: boolean }): RuleGroup[] {
  return [
    { name: 'mailfleet-probe', rules: probe(s) },
    { name: 'mailfleet-queue', rules: queues(s) },
    { name: 'mailfleet-delivery', rules: deliveries(s) },
    { name: 'mailfleet-smtpd', rules: rejects(s) },
    { name: 'mailfleet-policy', rules: [...policy(s, opts.policyRuns), ...loginPolicy(s)] },
    ...(opts.quotaChecked ? [{ name: 'mailfleet-quota', rules: quotaCheck(s) }] : []),
  ];
}
