/** The synthetic transactions: submit (msa) or receive (mta), deliver, fetch by IMAP and POP3, stage by stage. */
import type { DashboardDefinition } from './dashboard.ts';
import { graph, stat } from './panels.ts';
import { increase, quantile, rate, series } from './promql.ts';

const NS = ['namespace=~"$namespace"'];
const PATHS = [...NS, 'path=~"$path"'];

export const prober: DashboardDefinition = {
  name: 'prober',
  title: 'mailfleet / Prober',
  description: 'The prober (role probe): one message per path and cycle, timed at every stage, and the certificates it was shown.',
  variables: [
    { kind: 'label', name: 'namespace', label: 'Namespace', selector: 'mailfleet_probe_success' },
    { kind: 'label', name: 'path', label: 'Path', selector: 'mailfleet_probe_success{namespace=~"$namespace"}' },
  ],
  sections: [
    {
      title: 'Now',
      panels: [
        stat('Last cycle', 'none', [{ expr: `min by (path) (${series('mailfleet_probe_success', PATHS)})`, legend: '{{path}}' }], {
          mappings: { 0: { text: 'FAILING', color: 'red' }, 1: { text: 'OK', color: 'green' } },
          thresholds: [['red'], ['green', 1]],
          width: 8,
        }),
        stat('Since the last success', 's', [{ expr: `time() - max by (path) (${series('mailfleet_probe_last_success_timestamp_seconds', PATHS)})`, legend: '{{path}}' }], {
          thresholds: [['green'], ['orange', 600], ['red', 1800]],
          width: 8,
        }),
        stat('Success ratio', 'percentunit', [
          { expr: `${rate('mailfleet_probe_runs_total', [...PATHS, 'result="success"'], ['path'])} / ${rate('mailfleet_probe_runs_total', PATHS, ['path'])}`, legend: '{{path}}' },
        ], { thresholds: [['red'], ['orange', 0.9], ['green', 0.99]], width: 8 }),
      ],
    },
    {
      title: 'Runs',
      panels: [
        graph('Runs by result', 'short', [{ expr: increase('mailfleet_probe_runs_total', PATHS, ['path', 'result']), legend: '{{path}} {{result}}' }]),
        graph('Failures by stage', 'short', [{ expr: increase('mailfleet_probe_failures_total', PATHS, ['path', 'stage']), legend: '{{path}} {{stage}}' }]),
      ],
    },
    {
      title: 'Latency',
      panels: [
        graph('End to end (p50, p95)', 's', [
          { expr: quantile(0.5, 'mailfleet_probe_duration_seconds', PATHS, ['path']), legend: 'p50 {{path}}' },
          { expr: quantile(0.95, 'mailfleet_probe_duration_seconds', PATHS, ['path']), legend: 'p95 {{path}}' },
        ], { description: 'From submission until the message was fetched by every protocol.' }),
        graph('Stage latency (p50)', 's', [{ expr: quantile(0.5, 'mailfleet_probe_stage_duration_seconds', PATHS, ['path', 'stage']), legend: '{{path}} {{stage}}' }]),
        graph('Stage latency (p95)', 's', [{ expr: quantile(0.95, 'mailfleet_probe_stage_duration_seconds', PATHS, ['path', 'stage']), legend: '{{path}} {{stage}}' }], {
          description: 'connect, smtp (the dialogue until 250), delivery_imap/pop3 (until the message is listed), fetch_imap/pop3.',
        }),
      ],
    },
    {
      title: 'Certificates',
      panels: [
        graph('Certificates the probe was shown: time left', 's', [
          { expr: `${series('mailfleet_probe_certificate_expiry_timestamp_seconds', NS)} - time()`, legend: '{{servername}} at {{endpoint}}' },
        ]),
      ],
    },
  ],
};
