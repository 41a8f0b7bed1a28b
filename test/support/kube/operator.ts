/**
 * The operator under test against the in-process API server: a cluster with the MailPlatform CRD and the
 * renderer's third-party kinds served (created through the API), and `createOperator` run under its Lease.
 */
import type { TestContext } from 'node:test';
import { runWithLease } from '../../../src/backends/kube.ts';
import type { Logger } from '../../../src/log.ts';
import { mailPlatformCrd, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { createKubeApi, createOperator, createOperatorMetrics, OPERATOR_LEASE_NAME, type KubeApi, type OperatorScope } from '../../../src/runtime/kube/operator/index.ts';
import { startTestCluster, waitFor, type TestCluster } from './client.ts';

function thirdPartyCrd(group: string, version: string, kind: string, plural: string, scope: 'Namespaced' | 'Cluster'): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: { group, scope, names: { kind, plural, singular: kind.toLowerCase() }, versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
  };
}

/** A cluster with the MailPlatform CRD and the renderer's third-party kinds served, created through the API. */
export async function startCluster(t: TestContext): Promise<{ cluster: TestCluster; api: KubeApi }> {
  const cluster = await startTestCluster(t);
  const api = createKubeApi(cluster.kc);
  const crds = [
    mailPlatformCrd(),
    thirdPartyCrd('operator.victoriametrics.com', 'v1beta1', 'VMPodScrape', 'vmpodscrapes', 'Namespaced'),
    thirdPartyCrd('crd.projectcalico.org', 'v1', 'IPPool', 'ippools', 'Cluster'),
    thirdPartyCrd('monitoring.coreos.com', 'v1', 'ServiceMonitor', 'servicemonitors', 'Namespaced'),
    thirdPartyCrd('cert-manager.io', 'v1', 'Certificate', 'certificates', 'Namespaced'),
  ];
  for (const crd of crds) await api.apply(crd, { manager: 'kubectl', force: false });
  await waitFor('CRDs served', async () => (await Promise.all(crds.slice(1).map((c) => api.kindOf(`${(c.spec as { group: string }).group}/${((c.spec as { versions: { name: string }[] }).versions[0]!).name}`, (c.spec as { names: { kind: string } }).names.kind)))).every(Boolean));
  return { cluster, api };
}

export interface OperatorUnderTest {
  metrics: ReturnType<typeof createOperatorMetrics>;
  stop(): Promise<void>;
}

export interface OperatorTestOptions {
  log: Logger;
  identity?: string;
  directors?: string[];
  scope?: OperatorScope;
  /** MailPlatforms of this namespace only; undefined: every namespace. */
  namespace?: string;
  operatorNamespace?: string;
  /** Where the operator's own Lease is. Default `default`. */
  leaseNamespace?: string;
}

export function startOperator(t: TestContext, cluster: TestCluster, opts: OperatorTestOptions): OperatorUnderTest {
  const metrics = createOperatorMetrics();
  const identity = opts.identity ?? 'operator-0';
  const log = opts.log.child({ identity });
  const operator = createOperator({
    kubeConfig: cluster.kc,
    identity,
    log,
    metrics,
    resyncMs: 60_000,
    backendLease: { leaseDurationMs: 1_000, renewMs: 100 },
    directorEndpoints: () => (opts.directors ?? []).map((url) => ({ url })),
    ...(opts.scope ? { scope: opts.scope } : {}),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.operatorNamespace ? { operatorNamespace: opts.operatorNamespace } : {}),
  });
  const abort = new AbortController();
  const lease = { kubeConfig: cluster.kc, namespace: opts.leaseNamespace ?? 'default', name: OPERATOR_LEASE_NAME, identity, log, leaseDurationMs: 1_000, renewMs: 100 };
  const running = runWithLease(lease, abort.signal, (signal) => operator.start(signal));
  const stop = async () => {
    abort.abort();
    await running;
  };
  t.after(stop);
  return { metrics, stop };
}
