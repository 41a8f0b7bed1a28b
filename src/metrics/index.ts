/**
 * prom-client's Registry, Counter and Gauge, each loaded from its own file. prom-client's index also loads its
 * Pushgateway, and with it node:http, node:https and zlib: about 12 MB more resident in every process that imports
 * it. The agent is PID 1 of every pod and pays that once per pod (DESIGN.md: 64 MB), so what runs in the agent
 * takes its metric classes from here; the types are prom-client's own, so a registry made here is a prom-client
 * Registry everywhere.
 */
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Registry from 'prom-client/lib/registry.js';

export { Counter, Gauge, Registry };

/**
 * A registry whose every series carries `role` and `instance` (the agent's instance name), as the metric contract
 * asks of every series an agent exports.
 */
export function instanceRegistry(role: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role, instance });
  return registry;
}
