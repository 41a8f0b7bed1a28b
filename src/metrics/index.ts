/**
 * prom-client's Registry, Counter, Gauge and Histogram, each loaded from its own file (the package has no exports map).
 * prom-client's index also loads its Pushgateway, and with it node:http, node:https and zlib: about 12 MB more
 * resident in every process that imports it. The agent is PID 1 of every pod and pays that once per pod (DESIGN.md:
 * 64 MB), so what runs in the agent takes its metric classes from here. They are required, not imported: the CommonJS
 * files then skip the ES module loader's translation (less resident, bench/README.md "Footprint"). The types are
 * prom-client's own, so a registry made here is a prom-client Registry everywhere.
 */
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

const require = createRequire(import.meta.url);

export const Counter = require('prom-client/lib/counter.js') as typeof PromClient.Counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = require('prom-client/lib/gauge.js') as typeof PromClient.Gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram = require('prom-client/lib/histogram.js') as typeof PromClient.Histogram;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;
export const Registry = require('prom-client/lib/registry.js') as typeof PromClient.Registry;
export type Registry = PromClient.Registry;

/**
 * A registry whose every series carries `role` and `instance` (the agent's instance name), as the metric contract
 * asks of every series an agent exports.
 */
export function instanceRegistry(role: string, instance: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role, instance });
  return registry;
}
