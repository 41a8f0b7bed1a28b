import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface BackendMetrics {
  registry: Registry;
  backends: Gauge<'state'>;
  users: Gauge<'backend'>;
  reconcileDuration: Histogram;
  reconciles: Counter<'result'>;
  errors: Counter<'kind'>;
  steps: Counter<'op'>;
  syncLatency: Histogram;
}

/** Metrics of the backend-sync controller, in their own registry so every process can mount them. */
export function createBackendMetrics(registry = new Registry()): BackendMetrics {
  return {
    registry,
    backends: new Gauge({ name: 'mailfleet_backends', help: 'Mailbox backends in the director, by state (up, down, draining).', labelNames: ['state'], registers: [registry] }),
    users: new Gauge({ name: 'mailfleet_backends_users', help: 'Users the director has assigned to each backend.', labelNames: ['backend'], registers: [registry] }),
    reconcileDuration: new Histogram({
      name: 'mailfleet_backends_reconcile_duration_seconds',
      help: 'Duration of one reconcile: read desired and actual state, plan, apply.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    reconciles: new Counter({ name: 'mailfleet_backends_reconciles_total', help: 'Reconciles run, by result (noop, applied, error).', labelNames: ['result'], registers: [registry] }),
    errors: new Counter({ name: 'mailfleet_backends_errors_total', help: 'Reconcile errors, by kind (unavailable, unreachable, tls, auth, tempfail, notfound, failed).', labelNames: ['kind'], registers: [registry] }),
    steps: new Counter({ name: 'mailfleet_backends_steps_total', help: 'Director changes applied, by operation.', labelNames: ['op'], registers: [registry] }),
    syncLatency: new Histogram({
      name: 'mailfleet_backends_sync_latency_seconds',
      help: 'Time from a backend endpoint becoming ready to the director routing new users to it.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
