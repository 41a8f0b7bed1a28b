/** Postfix on every MTA role (mta, msa, mailout, fallback): queues, the SMTP server, deliveries and their delays. */
import type { DashboardDefinition } from './dashboard.ts';
import { graph, heatmap } from './panels.ts';
import { buckets, increase, quantile, rate, series, sumBy } from './promql.ts';

const ALL = ['namespace=~"$namespace"', 'role=~"$role"', 'instance=~"$instance"'];
const STAGES = ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission'];

export const mtaQueues: DashboardDefinition = {
  name: 'mta-queues',
  title: 'mailfleet / MTA and queues',
  description: 'Postfix from its logs and its queues (read through showq): connections, postscreen, rejects, SASL, TLS, deliveries, delays.',
  variables: [
    { kind: 'label', name: 'namespace', label: 'Namespace', selector: 'mailfleet_postfix_log_lines_total' },
    { kind: 'label', name: 'role', label: 'Role', selector: 'mailfleet_postfix_log_lines_total{namespace=~"$namespace"}' },
    { kind: 'label', name: 'instance', label: 'Instance', selector: 'mailfleet_postfix_log_lines_total{namespace=~"$namespace",role=~"$role"}' },
    { kind: 'list', name: 'stage', label: 'Delay stage', values: STAGES },
  ],
  sections: [
    {
      title: 'Queues',
      panels: [
        graph('Messages by queue', 'short', [{ expr: sumBy(['queue'], series('mailfleet_postfix_queue_messages', ALL)), legend: '{{queue}}' }], { stacked: true }),
        graph('Queue size', 'bytes', [{ expr: sumBy(['queue'], series('mailfleet_postfix_queue_size_bytes', ALL)), legend: '{{queue}}' }], { stacked: true }),
        graph('Oldest message by queue', 's', [{ expr: `max by (queue) (${series('mailfleet_postfix_queue_oldest_message_age_seconds', ALL)})`, legend: '{{queue}}' }], {
          description: 'Age of the oldest message in each queue, on the instance where it is oldest.',
        }),
        graph('Deferred messages by instance', 'short', [
          { expr: sumBy(['instance'], series('mailfleet_postfix_queue_messages', [...ALL, 'queue="deferred"'])), legend: '{{instance}}' },
          { expr: increase('mailfleet_postfix_queue_scrape_errors_total', ALL, ['instance']), legend: '{{instance}} queue read errors' },
        ]),
        graph('Message age in the deferred queue (p50, p95)', 's', [
          { expr: `histogram_quantile(0.5, sum by (le) (${series('mailfleet_postfix_queue_message_age_seconds_bucket', [...ALL, 'queue="deferred"'])}))`, legend: 'p50' },
          { expr: `histogram_quantile(0.95, sum by (le) (${series('mailfleet_postfix_queue_message_age_seconds_bucket', [...ALL, 'queue="deferred"'])}))`, legend: 'p95' },
        ], { description: 'From the queue as read at the last scrape (not a rate: the histogram is the queue itself).' }),
        graph('Message size in the queues (p95)', 'bytes', [
          { expr: `histogram_quantile(0.95, sum by (queue, le) (${series('mailfleet_postfix_queue_message_size_bytes_bucket', ALL)}))`, legend: '{{queue}}' },
        ]),
      ],
    },
    {
      title: 'SMTP server',
      panels: [
        graph('Connections', 'cps', [
          { expr: rate('mailfleet_postfix_smtpd_connects_total', ALL, ['role']), legend: '{{role}} connect' },
          { expr: rate('mailfleet_postfix_smtpd_disconnects_total', ALL, ['role']), legend: '{{role}} disconnect' },
          { expr: rate('mailfleet_postfix_smtpd_forward_confirmed_reverse_dns_errors_total', ALL, ['role']), legend: '{{role}} FCrDNS error' },
        ]),
        graph('Messages accepted by SASL method', 'ops', [{ expr: rate('mailfleet_postfix_smtpd_messages_processed_total', ALL, ['role', 'sasl_method']), legend: '{{role}} {{sasl_method}}' }], {
          description: 'An empty method is mail that was not authenticated (inbound MX).',
        }),
        graph('Rejects by stage and code', 'ops', [{ expr: rate('mailfleet_postfix_smtpd_rejects_total', ALL, ['stage', 'code']), legend: '{{stage}} {{code}}' }]),
        graph('SASL authentication failures', 'ops', [{ expr: rate('mailfleet_postfix_smtpd_sasl_authentication_failures_total', ALL, ['instance']), legend: '{{instance}}' }]),
        graph('TLS share of connections', 'percentunit', [
          { expr: `${rate('mailfleet_postfix_smtpd_tls_connections_total', ALL, ['role'])} / ${rate('mailfleet_postfix_smtpd_connects_total', ALL, ['role'])}`, legend: '{{role}}' },
        ], { max: 1, description: 'TLS sessions set up by smtpd (STARTTLS or implicit) per connection accepted.' }),
        graph('TLS connections by protocol', 'cps', [{ expr: rate('mailfleet_postfix_smtpd_tls_connections_total', ALL, ['protocol']), legend: '{{protocol}}' }]),
        graph('Connections lost by stage', 'cps', [{ expr: rate('mailfleet_postfix_smtpd_connections_lost_total', ALL, ['after_stage']), legend: 'after {{after_stage}}' }]),
      ],
    },
    {
      title: 'postscreen (inbound MX)',
      panels: [
        graph('postscreen actions', 'ops', [{ expr: rate('mailfleet_postfix_postscreen_actions_total', ALL, ['action']), legend: '{{action}}' }], {
          description: 'What postscreen did with each client before any smtpd saw it: connect, pass_new (waited its turn, handed to smtpd), pass_old (passed before, handed over at once), pregreet (a bot talking before its turn), hangup, allowlisted, denylisted, and the rest.',
        }),
        graph('postscreen refusals', 'ops', [
          { expr: rate('mailfleet_postfix_postscreen_rejects_total', ALL, ['reason', 'code']), legend: '{{reason}} {{code}}' },
          { expr: rate('mailfleet_postfix_dnsbl_listings_total', ALL, ['domain']), legend: 'listed by {{domain}}' },
        ], { description: 'Clients postscreen refused, by reason (dnsbl, protocol: a failed test such as pregreet, connection_limit, busy), and listings by each DNS blocklist.' }),
      ],
    },
    {
      title: 'Delivery',
      panels: [
        graph('Deliveries by transport and status', 'ops', [{ expr: rate('mailfleet_postfix_deliveries_total', ALL, ['transport', 'status']), legend: '{{transport}} {{status}}' }]),
        graph('Delivery delay by stage (p50, p95)', 's', [
          { expr: quantile(0.5, 'mailfleet_postfix_delivery_delay_seconds', [...ALL, 'stage=~"$stage"'], ['stage']), legend: 'p50 {{stage}}' },
          { expr: quantile(0.95, 'mailfleet_postfix_delivery_delay_seconds', [...ALL, 'stage=~"$stage"'], ['stage']), legend: 'p95 {{stage}}' },
        ], { description: 'Postfix delays=a/b/c/d: before the queue manager, in it, connection setup, transmission.' }),
        heatmap('Delivery delay ($stage)', 's', buckets('mailfleet_postfix_delivery_delay_seconds', [...ALL, 'stage=~"$stage"']), {
          description: 'Pick one stage above for a heatmap of that stage alone; All adds the stages up per bucket.',
        }),
        graph('Deferred by DSN', 'ops', [{ expr: rate('mailfleet_postfix_deferred_total', ALL, ['transport', 'dsn']), legend: '{{transport}} {{dsn}}' }]),
        graph('Bounced by DSN', 'ops', [{ expr: rate('mailfleet_postfix_bounced_total', ALL, ['transport', 'dsn']), legend: '{{transport}} {{dsn}}' }]),
        graph('Outbound TLS by trust', 'cps', [
          { expr: rate('mailfleet_postfix_smtp_tls_connections_total', ALL, ['trust']), legend: '{{trust}}' },
          { expr: rate('mailfleet_postfix_smtp_connection_timeouts_total', ALL), legend: 'connection timeouts' },
        ]),
      ],
    },
    {
      title: 'Queue manager and cleanup',
      panels: [
        graph('Queue manager', 'ops', [
          { expr: rate('mailfleet_postfix_qmgr_messages_inserted_total', ALL), legend: 'inserted' },
          { expr: rate('mailfleet_postfix_qmgr_messages_removed_total', ALL), legend: 'removed' },
          { expr: rate('mailfleet_postfix_qmgr_messages_expired_total', ALL), legend: 'expired' },
        ]),
        graph('Recipients per inserted message (p50, p95)', 'short', [
          { expr: quantile(0.5, 'mailfleet_postfix_qmgr_inserted_recipients', ALL), legend: 'p50' },
          { expr: quantile(0.95, 'mailfleet_postfix_qmgr_inserted_recipients', ALL), legend: 'p95' },
        ]),
        graph('Size of inserted messages (p50, p95)', 'bytes', [
          { expr: quantile(0.5, 'mailfleet_postfix_qmgr_inserted_size_bytes', ALL), legend: 'p50' },
          { expr: quantile(0.95, 'mailfleet_postfix_qmgr_inserted_size_bytes', ALL), legend: 'p95' },
        ]),
        graph('Cleanup', 'ops', [
          { expr: rate('mailfleet_postfix_cleanup_messages_processed_total', ALL), legend: 'processed' },
          { expr: rate('mailfleet_postfix_cleanup_messages_rejected_total', ALL), legend: 'rejected' },
          { expr: rate('mailfleet_postfix_cleanup_messages_not_accepted_total', ALL), legend: 'not accepted' },
          { expr: rate('mailfleet_postfix_bounce_notifications_total', ALL), legend: 'bounce notifications' },
        ]),
        graph('Log lines by service', 'ops', [
          { expr: rate('mailfleet_postfix_log_lines_total', ALL, ['service']), legend: '{{service}}' },
          { expr: rate('mailfleet_postfix_log_lines_unsupported_total', ALL, ['service', 'level']), legend: 'unsupported {{service}} {{level}}' },
        ], { description: 'Every line the exporter saw; unsupported lines are those it could not classify.' }),
      ],
    },
  ],
};
