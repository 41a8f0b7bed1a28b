/** The prober's metrics (names fixed by the platform's metrics contract), in a registry of its own. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProbePath } from '../spec/index.ts';
import type { EndpointName, Stage } from './settings.ts';
import { STAGES } from './settings.ts';
import type { PathResult } from './stages.ts';

/** Stage latencies: from a few ms (a login) to a delivery wait near the default deadline. */
const STAGE_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TOTAL_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface ProbeMetrics {
  registry: Registry;
  /** Counts one finished path (an aborted one is not counted). */
  record(result: PathResult, finishedAtMs: number): void;
  /** The notAfter of a certificate an endpoint served, in seconds since the epoch. */
  certificate(endpoint: EndpointName, servername: string, notAfterS: number): void;
}

/** `labels` are the registry's defaults (`role`, `instance`); `paths` get their counters at 0 from the start. */
export function createProbeMetrics(opts: { labels: Record<string, string>; paths: readonly ProbePath[] }): ProbeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(opts.labels);
  const registers = [registry];
  const success = new Gauge({ name: 'mailfleet_probe_success', help: 'Whether the last cycle of the path succeeded (1) or failed (0).', labelNames: ['path'], registers });
  const runs = new Counter({ name: 'mailfleet_probe_runs_total', help: 'Cycles of a path, by result (success, failure).', labelNames: ['path', 'result'], registers });
  const failures = new Counter({ name: 'mailfleet_probe_failures_total', help: 'Failed cycles of a path, by the stage that failed.', labelNames: ['path', 'stage'], registers });
  const duration = new Histogram({
    name: 'mailfleet_probe_duration_seconds',
    help: 'Successful cycles of a path: from connecting to submit to having fetched the message over IMAP and POP3.',
    labelNames: ['path'],
    buckets: TOTAL_BUCKETS_S,
    registers,
  });
  const stageDuration = new Histogram({
    name: 'mailfleet_probe_stage_duration_seconds',
    help: 'Stages that completed: connect (TCP, TLS, greeting, EHLO), smtp (AUTH, MAIL, RCPT, DATA), delivery_imap (until IMAP SEARCH finds it), fetch_imap, delivery_pop3 (until a POP3 maildrop holds it), fetch_pop3 (RETR, DELE, QUIT).',
    labelNames: ['path', 'stage'],
    buckets: STAGE_BUCKETS_S,
    registers,
  });
  const lastSuccess = new Gauge({ name: 'mailfleet_probe_last_success_timestamp_seconds', help: 'When the path last succeeded, as a Unix time.', labelNames: ['path'], registers });
  const expiry = new Gauge({
    name: 'mailfleet_probe_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the certificate an endpoint served the prober, by endpoint (msa, mta, imap, pop3) and the server name asked for, as a Unix time.',
    labelNames: ['endpoint', 'servername'],
    registers,
  });
  for (const path of opts.paths) {
    for (const result of ['success', 'failure']) runs.inc({ path, result }, 0);
    for (const stage of STAGES) failures.inc({ path, stage }, 0);
  }
  return {
    registry,
    record(result, finishedAtMs) {
      const { path } = result;
      if (result.outcome === 'aborted') return;
      for (const s of result.stages) stageDuration.observe({ path, stage: s.stage }, s.durationMs / 1000);
      if (result.outcome === 'succeeded') {
        success.set({ path }, 1);
        runs.inc({ path, result: 'success' });
        duration.observe({ path }, result.durationMs / 1000);
        lastSuccess.set({ path }, Math.floor(finishedAtMs / 1000));
        return;
      }
      success.set({ path }, 0);
      runs.inc({ path, result: 'failure' });
      failures.inc({ path, stage: (result.failure?.stage ?? 'connect') satisfies Stage });
    },
    certificate(endpoint, servername, notAfterS) {
      expiry.set({ endpoint, servername }, notAfterS);
    },
  };
}
