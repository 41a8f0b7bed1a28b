import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface OperatorMetrics {
  registry: Registry;
  /** result: applied, noop, invalid, conflict, failed, error, deleted. */
  reconciles: Counter<'result'>;
  reconcileDuration: Histogram;
  objects: Gauge<'platform'>;
  pruned: Counter<'platform'>;
  leader: Gauge;
}

export function createOperatorMetrics(registry = new Registry()): OperatorMetrics {
  return {
    registry,
    reconciles: new Counter({
      name: 'mailfleet_operator_reconcile_total',
      help: 'Reconciles of a MailPlatform, by result (applied, noop, invalid, conflict, failed, error, deleted).',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'mailfleet_operator_reconcile_duration_seconds',
      help: 'Duration of one reconcile: read, validate, render, list, apply, prune, status.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    objects: new Gauge({ name: 'mailfleet_operator_objects', help: 'Objects the last reconcile applied, per platform (namespace/name).', labelNames: ['platform'], registers: [registry] }),
    pruned: new Counter({ name: 'mailfleet_operator_pruned_total', help: 'Objects deleted because no longer rendered or the platform went, per platform.', labelNames: ['platform'], registers: [registry] }),
    leader: new Gauge({ name: 'mailfleet_operator_leader', help: '1 while this replica holds the operator Lease.', registers: [registry] }),
  };
}

/**
 * One exposition of several registries whose metric names repeat (one backend-sync registry per platform,
 * told apart by their `platform` default label): prom-client's aggregator merges the families, and its
 * default sum leaves series with distinct labels apart.
 */
export async function exposition(registries: readonly Registry[]): Promise<string> {
  const merged = AggregatorRegistry.aggregate(await Promise.all(registries.map((r) => r.getMetricsAsJSON())));
  return merged.metrics();
}

export const EXPOSITION_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
