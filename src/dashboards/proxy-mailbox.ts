/**
 * Dovecot on the proxies and mailbox backends (its OpenMetrics, relayed by the agent) and the proxy's
 * LMTP router. Dovecot also prints a series per `group_by` level (`{cmd_name="LIST"}` beside
 * `{cmd_name="LIST",tagged_reply_state="OK"}`): sums keep only the deepest level, or they would count twice.
 */
import type { DashboardDefinition } from './dashboard.ts';
import { graph } from './panels.ts';
import { increase, quantile, rate, series, sumBy } from './promql.ts';

const ALL = ['namespace=~"$namespace"', 'role=~"$role"', 'instance=~"$instance"'];
const IMAP = [...ALL, 'tagged_reply_state!=""'];
const LMTP = [...ALL, 'status_code!=""'];
/** The LMTP router runs in the proxies' agents. */
const ROUTER = ['namespace=~"$namespace"', 'role="proxy"', 'instance=~"$instance"'];
/** The msas' end of the SMTP AUTH relay (the instance variable lists proxies and backends only). */
const MSA = ['namespace=~"$namespace"', 'role="msa"'];

export const proxyMailbox: DashboardDefinition = {
  name: 'proxy-mailbox',
  title: 'mailfleet / Proxy and mailbox',
  description: 'Dovecot on the proxies (director, IMAP/POP3/LMTP proxy) and the mailbox backends; the LMTP router and its backend pool; the quota relay; the msas\' SMTP AUTH relay.',
  variables: [
    { kind: 'label', name: 'namespace', label: 'Namespace', selector: 'mailfleet_agent_ready{role=~"proxy|mailbox"}' },
    { kind: 'label', name: 'role', label: 'Role', selector: 'mailfleet_agent_ready{namespace=~"$namespace",role=~"proxy|mailbox"}' },
    { kind: 'label', name: 'instance', label: 'Instance', selector: 'mailfleet_agent_ready{namespace=~"$namespace",role=~"$role",role=~"proxy|mailbox"}' },
  ],
  sections: [
    {
      title: 'Authentication and sessions',
      panels: [
        graph('Authentications', 'ops', [
          { expr: rate('dovecot_auth_success_total', ALL, ['role']), legend: '{{role}} success' },
          { expr: rate('dovecot_auth_failure_total', ALL, ['role']), legend: '{{role}} failure' },
        ]),
        graph('Proxied sessions', 'ops', [{ expr: rate('dovecot_proxy_session_total', ALL, ['instance']), legend: '{{instance}}' }], {
          description: 'IMAP and POP3 sessions the proxies finished relaying to a backend.',
        }),
        graph('POP3 sessions', 'ops', [{ expr: rate('dovecot_pop3_session_total', ALL, ['instance']), legend: '{{instance}}' }], {
          description: 'POP3 sessions the mailbox backends finished (Dovecot 2.3 has no event per POP3 command).',
        }),
      ],
    },
    {
      title: 'IMAP',
      panels: [
        graph('IMAP commands by name', 'ops', [{ expr: rate('dovecot_imap_command_total', IMAP, ['cmd_name']), legend: '{{cmd_name}}' }]),
        graph('IMAP replies by state', 'ops', [{ expr: rate('dovecot_imap_command_total', IMAP, ['role', 'tagged_reply_state']), legend: '{{role}} {{tagged_reply_state}}' }], {
          description: 'OK, NO (refused) and BAD (malformed) tagged replies.',
        }),
        graph('IMAP command time (mean)', 's', [
          { expr: `${increase('dovecot_imap_command_duration_seconds_total', IMAP, ['cmd_name'])} / ${increase('dovecot_imap_command_total', IMAP, ['cmd_name'])}`, legend: '{{cmd_name}}' },
        ], {
          // increase, not rate: a command's series first appears with its count already set, so a short window
          // holds a single sample, where rate has nothing and VictoriaMetrics' increase counts it from 0.
          description: 'Summed duration over count of the commands finished in the window.',
        }),
      ],
    },
    {
      title: 'LMTP delivery',
      panels: [
        graph('Dovecot LMTP commands by status', 'ops', [{ expr: rate('dovecot_lmtp_command_total', LMTP, ['role', 'cmd_name', 'status_code']), legend: '{{role}} {{cmd_name}} {{status_code}}' }]),
        graph('Mail deliveries', 'ops', [{ expr: rate('dovecot_mail_delivery_total', ALL, ['instance']), legend: '{{instance}}' }], {
          description: 'Messages stored into mailboxes by the backends.',
        }),
        graph('LMTP router sessions', 'short', [
          { expr: sumBy(['instance'], series('mailfleet_lmtp_router_sessions', ROUTER)), legend: '{{instance}} open' },
          { expr: sumBy(['instance'], series('mailfleet_lmtp_router_session_limit', ROUTER)), legend: '{{instance}} limit' },
        ]),
        graph('LMTP router sessions accepted and refused', 'ops', [
          { expr: rate('mailfleet_lmtp_router_sessions_total', ROUTER), legend: 'accepted' },
          { expr: rate('mailfleet_lmtp_router_sessions_refused_total', ROUTER), legend: 'refused (421, at the cap)' },
        ]),
        graph('LMTP router recipients and deliveries', 'ops', [
          { expr: rate('mailfleet_lmtp_router_recipients_total', ROUTER, ['result']), legend: 'recipient {{result}}' },
          { expr: rate('mailfleet_lmtp_router_deliveries_total', ROUTER, ['result']), legend: 'delivery {{result}}' },
        ]),
        graph('LMTP router throughput', 'Bps', [{ expr: rate('mailfleet_lmtp_router_message_bytes_total', ROUTER, ['instance']), legend: '{{instance}}' }]),
      ],
    },
    {
      title: 'LMTP router backend pool',
      panels: [
        graph('Backend connections', 'ops', [{ expr: rate('mailfleet_lmtp_router_backend_connections_total', ROUTER, ['event']), legend: '{{event}}' }], {
          description: 'Connections to mailbox backends opened, reused from the pool, or failed.',
        }),
        graph('Waits for a backend slot', 'short', [
          { expr: increase('mailfleet_lmtp_router_backend_queued_total', ROUTER), legend: 'queued' },
          { expr: increase('mailfleet_lmtp_router_backend_slot_timeouts_total', ROUTER), legend: 'timed out (451)' },
          { expr: increase('mailfleet_lmtp_router_backend_retries_total', ROUTER), legend: 'sent again on a new connection' },
        ]),
        graph('Idle backend connections', 'short', [{ expr: sumBy(['instance'], series('mailfleet_lmtp_router_backend_idle_connections', ROUTER)), legend: '{{instance}}' }]),
      ],
    },
    {
      title: 'Quota at RCPT',
      panels: [
        graph('Quota questions by answer', 'ops', [{ expr: rate('mailfleet_quota_relay_requests_total', ROUTER, ['answer']), legend: '{{answer}}' }], {
          description: 'The mtas\' questions to the proxies\' quota relay: dunno (the message fits, or nothing to ask), reject (552, mailbox full: refused at RCPT instead of bounced later), fail_open (not checked, let through).',
        }),
        graph('Quota not checked, by reason', 'short', [{ expr: increase('mailfleet_quota_relay_fail_open_total', ROUTER, ['reason']), legend: '{{reason}}' }], {
          description: 'Questions answered DUNNO because the director or the backend\'s quota-status did not answer in time or answered something else.',
        }),
        graph('Quota question time', 's', [
          { expr: quantile(0.5, 'mailfleet_quota_relay_request_duration_seconds', ROUTER), legend: 'p50' },
          { expr: quantile(0.99, 'mailfleet_quota_relay_request_duration_seconds', ROUTER), legend: 'p99' },
        ], { description: 'From a complete question to its answer: a director lookup and a round-trip to the backend. The deadline is 1 s.' }),
      ],
    },
    {
      title: 'SMTP AUTH relay',
      panels: [
        graph('Connections to the proxies\' auth port', 'short', [{ expr: increase('mailfleet_auth_relay_server_connections_total', ROUTER, ['result']), legend: '{{result}}' }], {
          description: 'The msas\' SMTP AUTH, in TLS with the relay key: relayed to Dovecot auth, refused (no handshake with the key within 5 s), upstream_failed (Dovecot auth did not take it).',
        }),
        graph('msa logins carried to a proxy', 'short', [{ expr: increase('mailfleet_auth_relay_client_connections_total', MSA, ['result']), legend: '{{result}}' }], {
          description: 'Postfix SASL connections the msas\' agents carried: relayed, no_target (no proxy known), failed (the proxy did not take the handshake in time).',
        }),
      ],
    },
    {
      title: 'Agents',
      panels: [
        graph('Readiness checks', 'ops', [{ expr: rate('mailfleet_agent_readiness_checks_total', ALL, ['instance', 'result']), legend: '{{instance}} {{result}}' }]),
        graph('Readiness check duration', 's', [{ expr: `max by (instance) (${series('mailfleet_agent_readiness_check_duration_seconds', ALL)})`, legend: '{{instance}}' }]),
        graph('Certificate reloads', 'short', [{ expr: increase('mailfleet_agent_certificate_reloads_total', ALL, ['instance', 'result']), legend: '{{instance}} {{result}}' }]),
      ],
    },
  ],
};
