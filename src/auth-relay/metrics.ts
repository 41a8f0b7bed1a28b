import { Counter, Gauge, type Registry } from '../metrics/index.ts';

/**
 * One end's metrics of the SMTP AUTH relay (`side`: `server` on the proxy, `client` on the msa):
 * `mailfleet_auth_relay_<side>_connections_total{result}`, every result at 0 from the start, and
 * `mailfleet_auth_relay_<side>_connections`, read from `open` at each scrape.
 */
export function relayMetrics<R extends string>(registry: Registry, side: 'server' | 'client', results: readonly R[], help: { total: string; open: string }, open: () => number): Counter<'result'> {
  const connections = new Counter({ name: `mailfleet_auth_relay_${side}_connections_total`, help: help.total, labelNames: ['result'], registers: [registry] });
  for (const result of results) connections.inc({ result }, 0);
  new Gauge({
    name: `mailfleet_auth_relay_${side}_connections`,
    help: help.open,
    registers: [registry],
    collect() {
      this.set(open());
    },
  });
  return connections;
}
