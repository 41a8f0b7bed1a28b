/**
 * A policy server in a process of its own, so that a test can read its memory apart from the clients': started
 * with the JSON options in argv[2] (`listen`, `metrics`, `redis`, `rules`, `tuning`), prints `listening <port>` once bound and
 * Redis is ready, stops on SIGTERM.
 */
import { pino } from 'pino';
import { serveProbeEndpoints, verdict } from '../../../src/http-responder.ts';
import { createPolicyServer, validatePolicyRules } from '../../../src/policy/index.ts';

type Address = { host: string; port: number };
const { metrics, ...options } = JSON.parse(process.argv[2] ?? '{}') as { listen: Address; redis: Address; metrics: Address; rules: unknown; tuning?: object };
const log = pino({ level: 'warn' }, pino.destination(2));
const server = createPolicyServer({ ...options, rules: validatePolicyRules(options.rules), log });
const http = await serveProbeEndpoints({ ...metrics, metrics: server.metrics.registry, ready: () => verdict(server.ready()), log });
const abort = new AbortController();
process.once('SIGTERM', () => abort.abort());
const running = server.start(abort.signal);
const { port } = await server.listening;
const timer = setInterval(() => {
  void server.metrics.registry.getSingleMetric('mailfleet_policy_redis_up')?.get().then(({ values }) => {
    if (values[0]?.value !== 1) return;
    clearInterval(timer);
    process.stdout.write(`listening ${port}\n`);
  });
}, 20);
await running;
await http.close();
