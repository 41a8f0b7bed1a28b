/** The backend-sync controller: mailbox endpoints → the Dovecot directors, and how fast a new backend gets users. */
import type { DashboardDefinition } from './dashboard.ts';
import { graph } from './panels.ts';
import { increase, quantile, rate, series } from './promql.ts';

const NS = ['namespace=~"$namespace"'];

export const controller: DashboardDefinition = {
  name: 'controller',
  title: 'mailfleet / Controller',
  description: 'Backend sync: reconciles, director changes, errors, latency from a new ready backend to the director, backends and their users.',
  variables: [{ kind: 'label', name: 'namespace', label: 'Namespace', selector: 'mailfleet_backends' }],
  sections: [
    {
      title: 'Backends',
      panels: [
        graph('Backends by state', 'short', [{ expr: `max by (state) (${series('mailfleet_backends', NS)})`, legend: '{{state}}' }], {
          stacked: true,
          description: 'Mailbox backends in the director: up, down, draining.',
        }),
        graph('Users per backend', 'short', [{ expr: `max by (backend) (${series('mailfleet_backends_users', NS)})`, legend: '{{backend}}' }], {
          description: 'Users the director has assigned to each backend.',
        }),
      ],
    },
    {
      title: 'Reconciles',
      panels: [
        graph('Reconciles by result', 'ops', [{ expr: rate('mailfleet_backends_reconciles_total', NS, ['result']), legend: '{{result}}' }], {
          description: 'noop: the director already matched; applied: changes made; error.',
        }),
        graph('Director changes by operation', 'short', [{ expr: increase('mailfleet_backends_steps_total', NS, ['op']), legend: '{{op}}' }]),
        graph('Errors by kind', 'short', [{ expr: increase('mailfleet_backends_errors_total', NS, ['kind']), legend: '{{kind}}' }]),
        graph('Reconcile duration (p50, p95)', 's', [
          { expr: quantile(0.5, 'mailfleet_backends_reconcile_duration_seconds', NS), legend: 'p50' },
          { expr: quantile(0.95, 'mailfleet_backends_reconcile_duration_seconds', NS), legend: 'p95' },
        ]),
        graph('Sync latency (p50, p95)', 's', [
          { expr: quantile(0.5, 'mailfleet_backends_sync_latency_seconds', NS), legend: 'p50' },
          { expr: quantile(0.95, 'mailfleet_backends_sync_latency_seconds', NS), legend: 'p95' },
        ], { description: 'From an endpoint change (a backend ready, leaving or gone) until the director reflects it.' }),
      ],
    },
    {
      title: 'Certificates',
      panels: [
        graph('Certificate renewals', 'short', [{ expr: increase('mailfleet_tls_certificate_renewals_total', NS, ['certificate', 'result']), legend: '{{certificate}} {{result}}' }], {
          description: 'Issuance attempts of the single host\'s runtime (in Kubernetes cert-manager issues, and reports on its Certificates).',
        }),
        graph('Certificates served: time left', 's', [
          { expr: `min by (certificate) (${series('mailfleet_agent_certificate_expiry_timestamp_seconds', NS)}) - time()`, legend: '{{certificate}}' },
        ], { description: 'The earliest expiry among the instances serving each certificate, as their agents report it.' }),
      ],
    },
  ],
};
