/** The platform at a glance: is every instance up, does mail get through end to end, is anything piling up. */
import type { DashboardDefinition } from './dashboard.ts';
import { graph, stat } from './panels.ts';
import { increase, quantile, rate, series, sumBy } from './promql.ts';

const NS = ['namespace=~"$namespace"'];
const OK_FAIL = { 0: { text: 'FAILING', color: 'red' }, 1: { text: 'OK', color: 'green' } };
const DAY_S = 86_400;

export const overview: DashboardDefinition = {
  name: 'overview',
  title: 'mailfleet / Overview',
  description: 'Every role of the platform: instances ready, the synthetic probe, mail flow, flow control, queues and certificates.',
  variables: [{ kind: 'label', name: 'namespace', label: 'Namespace', selector: 'mailfleet_agent_ready' }],
  sections: [
    {
      title: 'Health',
      panels: [
        stat('Instances not ready', 'short', [{ expr: sumBy([], `1 - ${series('mailfleet_agent_ready', NS)}`), legend: 'not ready' }], {
          description: 'Instances whose daemon does not answer its protocol dialogue (SMTP EHLO, IMAP CAPABILITY, LMTP LHLO, LDAP search, Redis PING).',
          thresholds: [['green'], ['red', 1]],
        }),
        stat('Daemons down', 'short', [{ expr: sumBy([], `1 - ${series('mailfleet_agent_daemon_up', NS)}`), legend: 'down' }], {
          description: 'Instances whose supervised daemon process is not running.',
          thresholds: [['green'], ['red', 1]],
        }),
        stat('Probe', 'none', [{ expr: `min by (path) (${series('mailfleet_probe_success', NS)})`, legend: '{{path}}' }], {
          description: 'Last cycle of the synthetic probe per path: submit, deliver, fetch by IMAP and POP3.',
          mappings: OK_FAIL,
          thresholds: [['red'], ['green', 1]],
          width: 6,
        }),
        stat('Deferred messages', 'short', [{ expr: sumBy([], series('mailfleet_postfix_queue_messages', [...NS, 'queue="deferred"'])), legend: 'deferred' }], {
          description: 'Messages in the deferred queues of every Postfix instance.',
          thresholds: [['green'], ['orange', 100], ['red', 1000]],
        }),
        stat('First certificate expiry', 's', [
          { expr: `min(${series('mailfleet_agent_certificate_expiry_timestamp_seconds', NS)}) - time()`, legend: 'served' },
          { expr: `min(${series('mailfleet_probe_certificate_expiry_timestamp_seconds', NS)}) - time()`, legend: 'seen by the probe' },
        ], {
          description: 'Time until the first certificate expires: those the platform serves, and those the prober was shown.',
          thresholds: [['red'], ['orange', 7 * DAY_S], ['green', 21 * DAY_S]],
          width: 6,
        }),
      ],
    },
    {
      title: 'Instances',
      panels: [
        graph('Ready instances by role', 'short', [
          { expr: sumBy(['role'], series('mailfleet_agent_ready', NS)), legend: '{{role}} ready' },
          { expr: sumBy(['role'], series('mailfleet_agent_daemon_up', NS)), legend: '{{role}} running' },
        ]),
        graph('Draining instances', 'short', [{ expr: sumBy(['role'], series('mailfleet_agent_draining', NS)), legend: '{{role}}' }], {
          description: 'Instances that took a drain (on stop, scale-down or a rolling restart).',
        }),
      ],
    },
    {
      title: 'Mail flow',
      panels: [
        graph('SMTP connections', 'cps', [{ expr: rate('mailfleet_postfix_smtpd_connects_total', NS, ['role']), legend: '{{role}}' }]),
        graph('Deliveries by status', 'ops', [{ expr: rate('mailfleet_postfix_deliveries_total', NS, ['status']), legend: '{{status}}' }], {
          description: 'Postfix deliveries (smtp, lmtp, ...) per second: sent, deferred, bounced, expired.',
        }),
        graph('Queues', 'short', [{ expr: sumBy(['queue'], series('mailfleet_postfix_queue_messages', NS)), legend: '{{queue}}' }], { stacked: true }),
        graph('Logins', 'ops', [
          { expr: rate('dovecot_auth_success_total', [...NS, 'role="proxy"']), legend: 'success' },
          { expr: rate('dovecot_auth_failure_total', [...NS, 'role="proxy"']), legend: 'failure' },
        ], { description: 'Dovecot authentications on the proxies: IMAP, POP3 and SMTP submission (SASL).' }),
      ],
    },
    {
      title: 'Flow control',
      panels: [
        graph('Policy answers by action', 'ops', [{ expr: rate('mailfleet_policy_requests_total', NS, ['action', 'rule']), legend: '{{action}} {{rule}}' }], {
          description: 'Requests the policy servers answered per second: DUNNO within every limit, otherwise the action of the rule (named) whose limit was hit.',
          stacked: true,
        }),
        graph('Policy latency (p99)', 's', [{ expr: quantile(0.99, 'mailfleet_policy_request_duration_seconds', NS, ['instance']), legend: '{{instance}}' }], {
          description: 'From a complete request to its reply, per policy server; the deadline (spec.policy.deadlineMs, 100 ms by default) bounds it.',
        }),
        graph('Policy answers without a Redis round trip', 'ops', [{ expr: rate('mailfleet_policy_leased_total', NS, ['instance']), legend: '{{instance}}' }], {
          description: 'Requests each policy server passed per second on allowance Redis lent it ahead (counted there when lent): far from their limits most requests pass so; near a limit none do.',
        }),
        graph('Policy fail-open', 'ops', [{ expr: rate('mailfleet_policy_fail_open_total', NS, ['reason']), legend: '{{reason}}' }], {
          description: 'Requests answered with the default action without a check, per second: Redis down, past the deadline, too many in flight, or a script error. Mail flows, unlimited.',
        }),
        graph('Policy connections shed', 'ops', [{ expr: rate('mailfleet_policy_connections_shed_total', NS, ['reason']), legend: '{{reason}}' }], {
          description: 'Client connections the policy servers closed per second to protect themselves: an idle one making room at the connection cap, a newcomer turned away there, or those holding most past the budget of unread replies and undecoded requests. Anything but a rare idle_at_cap means clients other than Postfix are at the port, or too few policy servers.',
        }),
        graph('Login policy verdicts', 'ops', [{ expr: rate('mailfleet_policy_auth_requests_total', NS, ['command', 'verdict', 'rule']), legend: '{{command}} {{verdict}} {{rule}}' }], {
          description: 'What the proxies\' Dovecot was told per second before logins (allow, reject, tarpit, with the auth rule that decided) and the outcomes it reported after. A rise in reject is a password-guessing wave held back.',
          stacked: true,
        }),
        graph('Login policy fail-open', 'ops', [{ expr: rate('mailfleet_policy_auth_fail_open_total', NS, ['reason']), legend: '{{reason}}' }], {
          description: 'Login checks and reports answered allow without Redis per second: Redis down, past the deadline, too many in flight, or a script error. Logins go on, failures are not counted.',
        }),
        graph('Redis memory', 'bytes', [
          { expr: sumBy(['instance'], series('redis_memory_used_bytes', NS)), legend: '{{instance}} used' },
          { expr: sumBy(['instance'], series('redis_memory_max_bytes', NS)), legend: '{{instance}} maxmemory' },
        ], {
          description: 'What each kvs Redis holds against its maxmemory (60 % of its memory limit), from INFO as its agent serves it. At maxmemory the policy counters are evicted first (volatile-lru).',
        }),
        graph('Policy servers connected to Redis', 'short', [{ expr: sumBy([], series('mailfleet_policy_redis_up', NS)), legend: 'connected' }, { expr: `count(${series('mailfleet_policy_redis_up', NS)})`, legend: 'instances' }], {
          description: 'Policy servers whose Redis (kvs) connection is ready, against all of them.',
        }),
      ],
    },
    {
      title: 'Filter',
      panels: [
        graph('Messages scanned by rspamd', 'ops', [{ expr: rate('rspamd_scanned_total', [...NS, 'role="as"'], ['instance']), legend: '{{instance}}' }], {
          description: 'Messages each rspamd (as) scanned per second, from its own metrics as its agent relays them.',
        }),
        graph('rspamd actions', 'ops', [{ expr: rate('rspamd_actions_total', [...NS, 'role="as"'], ['type']), legend: '{{type}}' }], {
          description: 'Verdicts per second: no action (accepted), greylist, add header (tagged as spam), rewrite subject, soft reject, reject.',
          stacked: true,
        }),
        graph('Milter failures', 'short', [{ expr: increase('mailfleet_postfix_milter_failures_total', NS, ['role', 'stage', 'reason']), legend: '{{role}} {{stage}} {{reason}}' }], {
          description: 'Times Postfix could not ask rspamd and applied milter_default_action instead: mail accepted unscanned when the filter fails open, deferred (4xx) when it fails closed.',
        }),
        graph('Filter instances ready', 'short', [
          { expr: sumBy(['role'], series('mailfleet_agent_ready', [...NS, 'role=~"as|av"'])), legend: '{{role}} ready' },
          { expr: sumBy(['role'], series('mailfleet_agent_daemon_up', [...NS, 'role=~"as|av"'])), legend: '{{role}} running' },
        ], {
          description: 'rspamd (as) and clamd (av) instances that answer their readiness dialogue (rspamd /ping, clamd PING). With no av ready, rspamd lets mail through without a virus scan.',
        }),
      ],
    },
    {
      title: 'Probe and certificates',
      panels: [
        graph('Probe runs', 'short', [{ expr: increase('mailfleet_probe_runs_total', NS, ['path', 'result']), legend: '{{path}} {{result}}' }]),
        graph('Probe end to end (p95)', 's', [{ expr: quantile(0.95, 'mailfleet_probe_duration_seconds', NS, ['path']), legend: '{{path}}' }], {
          description: 'From submission until the message was fetched by every protocol.',
        }),
        graph('Certificates: time left', 's', [
          { expr: `${series('mailfleet_agent_certificate_expiry_timestamp_seconds', NS)} - time()`, legend: '{{certificate}} ({{role}} {{instance}})' },
          { expr: `${series('mailfleet_probe_certificate_expiry_timestamp_seconds', NS)} - time()`, legend: '{{servername}} at {{endpoint}} (probe)' },
          { expr: `${series('mailfleet_agent_backend_tls_expiry_timestamp_seconds', NS)} - time()`, legend: 'backend TLS of {{instance}} (for the proxies)' },
          { expr: `${series('mailfleet_agent_ldap_tls_expiry_timestamp_seconds', NS)} - time()`, legend: 'LDAP TLS of {{instance}} (for its clients)' },
          { expr: `${series('mailfleet_agent_doveadm_tls_expiry_timestamp_seconds', NS)} - time()`, legend: 'doveadm TLS of {{instance}} (for its callers)' },
          { expr: `${series('mailfleet_agent_redis_tls_expiry_timestamp_seconds', NS)} - time()`, legend: 'Redis TLS of {{instance}} (for its clients)' },
        ], {
          description: 'Served certificates, those the prober was shown, and the internal hops\' (30 days, renewed 10 days before the end): the backends\' for the proxies\' logins, slapd\'s for the binds to LDAP, the proxies\' for their doveadm API, Redis\'s for its clients.',
        }),
        graph('Certificates on stand-in', 'short', [{ expr: sumBy(['certificate'], series('mailfleet_tls_certificate_stand_in', NS)), legend: '{{certificate}}' }], {
          description: 'Certificates served from a stand-in because the configured issuer has not delivered one yet (the single host, whose runtime issues them).',
        }),
      ],
    },
  ],
};
