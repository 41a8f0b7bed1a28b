import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { runWithLease } from '../backends/kube.ts';
import { serveProbeEndpoints, verdict } from '../http-responder.ts';
import { createLogger } from '../log.ts';
import { createOperator, createOperatorMetrics, exposition, EXPOSITION_CONTENT_TYPE, OPERATOR_LEASE_NAME } from '../runtime/kube/operator/index.ts';
import { allowedClusterIssuers, allowedRegistries } from './allow-lists.ts';
import { parse, usageError } from './args.ts';

const USAGE = `mailfleet operator [--namespace NS | --all-namespaces] [--kubeconfig FILE] [--listen HOST:PORT] [--resync SECONDS]
                   [--identity ID] [--lease-namespace NS] [--operator-namespace NS]
                   [--allow-cross-namespace] [--allowed-registries REGISTRY,...] [--allowed-cluster-issuers NAME,...]`;

/**
 * `mailfleet operator`: reconciles MailPlatform resources (and runs each platform's backend sync) while
 * this replica holds the `mailfleet-operator` Lease. Without --namespace or --all-namespaces it watches
 * the kubeconfig context's namespace.
 */
export async function operatorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    namespace: { type: 'name', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    kubeconfig: { type: 'string' },
    listen: { type: 'host-port', default: '0.0.0.0:8081' },
    // The safety-net re-list; bounded as the spec's director.resyncSeconds.
    resync: { type: 'integer', min: 1, max: 3600, unit: 'seconds', default: 60 },
    identity: { type: 'string' },
    'lease-namespace': { type: 'name' },
    // Where this operator's pods run (default $POD_NAMESPACE): the proxies admit its backend sync from there.
    'operator-namespace': { type: 'name' },
    // The installer's opt-ins: what MailPlatform authors may ask for beyond their own namespace and the default images.
    'allow-cross-namespace': { type: 'boolean' },
    'allowed-registries': { type: 'string' },
    'allowed-cluster-issuers': { type: 'string' },
  }, USAGE);
  if (values.namespace && values['all-namespaces']) throw usageError(USAGE, '--namespace and --all-namespaces exclude each other');
  const scope = {
    allowCrossNamespace: values['allow-cross-namespace'] === true,
    allowedRegistries: allowedRegistries(values['allowed-registries'], USAGE),
    allowedClusterIssuers: allowedClusterIssuers(values['allowed-cluster-issuers'], USAGE),
  };
  const resyncSeconds = values.resync;
  const listen = values.listen;

  const kc = new KubeConfig();
  if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
  else kc.loadFromDefault();
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? contextNamespace ?? 'default');
  const leaseNamespace = values['lease-namespace'] ?? namespace ?? process.env.POD_NAMESPACE ?? contextNamespace ?? 'default';
  const identity = values.identity ?? process.env.POD_NAME ?? hostname();
  const operatorNamespace = values['operator-namespace'] ?? process.env.POD_NAMESPACE;

  const log = createLogger('operator');
  const metrics = createOperatorMetrics();
  const operator = createOperator({
    kubeConfig: kc, namespace, identity, log, metrics, resyncMs: resyncSeconds * 1000, scope, ...(operatorNamespace ? { operatorNamespace } : {}),
  });
  let leading = false;
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());

  const server = await serveProbeEndpoints({
    host: listen.host,
    port: listen.port,
    metrics: { metrics: () => exposition(operator.registries()), contentType: EXPOSITION_CONTENT_TYPE },
    live: () => verdict(true),
    // A standby replica is ready: it is waiting for the Lease, as it should.
    ready: () => verdict(!leading || operator.synced(), 'not synced'),
    log,
  });
  log.info({ namespace: namespace ?? '(all)', lease: `${leaseNamespace}/${OPERATOR_LEASE_NAME}`, identity, listen: server.address.port, resyncSeconds, scope }, 'operator starting');
  try {
    await runWithLease({ kubeConfig: kc, namespace: leaseNamespace, name: OPERATOR_LEASE_NAME, identity, log }, abort.signal, async (signal) => {
      leading = true;
      try {
        await operator.start(signal);
      } finally {
        leading = false;
      }
    });
  } finally {
    await server.close();
  }
  return 0;
}
