/** `spec.kubernetes.resources` past the schema: what the Kubernetes API server would refuse in a Pod. */
import { quantityValue } from './quantity.ts';
import type { PlatformSpec } from './types.ts';

/**
 * A quantity in the unit the API server keeps the resource in, a millicore or a byte; rounding to it also drops
 * the float noise of decimal suffixes (`1100m` reads 1.1000000000000001, as `1.1` does).
 */
const UNITS_PER_QUANTITY = { cpu: 1000, memory: 1 } as const;

/** A request above its limit: the API server refuses the Pod, so the workload would never roll out. */
export function resourceProblems(spec: PlatformSpec): string[] {
  const problems: string[] = [];
  for (const [workload, { requests, limits }] of Object.entries(spec.kubernetes.resources)) {
    for (const [resource, units] of Object.entries(UNITS_PER_QUANTITY) as ['cpu' | 'memory', number][]) {
      const [request, limit] = [requests[resource], limits[resource]];
      if (Math.round(quantityValue(request) * units) > Math.round(quantityValue(limit) * units)) {
        problems.push(`spec.kubernetes.resources.${workload}.requests.${resource}: expected at most limits.${resource} (${limit}), got ${request}; the API server refuses a request above its limit`);
      }
    }
  }
  return problems;
}
