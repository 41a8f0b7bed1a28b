/**
 * The operator loop: informers on MailPlatforms and on the workloads they own only queue keys; one
 * worker reconciles a key at a time; a periodic resync re-lists every MailPlatform (repairing whatever
 * a stalled watch missed). Retryable errors back off per key; terminal outcomes wait for the next
 * event or resync. Run it under the operator Lease: only the leader reconciles.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { DirectorEndpoint } from '../../../backends/index.ts';
import { errorMessage, isMailfleetError } from '../../../errors.ts';
import type { Logger } from '../../../log.ts';
import type { MailPlatform } from '../../../spec/index.ts';
import { PLATFORM_LABEL } from '../context.ts';
import type { KubeObject } from '../objects.ts';
import { createKubeApi, KubeApiError, type KubeApi } from './api.ts';
import { isRetryable } from './apply.ts';
import { createBackendSyncs } from './backend-sync.ts';
import { watchResource, type ResourceWatch } from './informers.ts';
import { MAILPLATFORM_KIND } from './kinds.ts';
import type { OperatorMetrics } from './metrics.ts';
import { OWNER_ANNOTATION } from './plan.ts';
import { createWorkQueue } from './queue.ts';
import { keyOf, reconcilePlatform, reportApiError, type ReconcileDeps } from './reconcile.ts';
import { NAMESPACED_SCOPE, type OperatorScope } from './scope.ts';

export const RESYNC_MS = 60_000;
/** Consecutive retryable failures of one platform before its status says so. */
export const FAILURES_BEFORE_REPORT = 3;

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** MailPlatforms of this namespace only; undefined: every namespace. */
  namespace?: string;
  /** What MailPlatform authors may ask for, as the installer decided. Default NAMESPACED_SCOPE. */
  scope?: OperatorScope;
  /** Where the operator's pods run: the proxies' NetworkPolicy lets its backend sync reach doveadm from there. */
  operatorNamespace?: string;
  /** This replica (the pod name): holder identity of the backend-sync Leases. */
  identity: string;
  log: Logger;
  metrics: OperatorMetrics;
  resyncMs?: number;
  directorEndpoints?: (doc: MailPlatform) => DirectorEndpoint[];
  /** Lease timing of the per-platform backend syncs (tests shorten it). */
  backendLease?: { leaseDurationMs?: number; renewMs?: number };
}

export interface Operator {
  /** Reconciles until `signal` aborts, then stops every watch and backend sync. */
  start(signal: AbortSignal): Promise<void>;
  /** Leading, and both watches have listed. */
  synced(): boolean;
  /** The operator's metrics and every running backend sync's. */
  registries(): Registry[];
}

/** Watched for readiness; other owned kinds are repaired by the resync. */
/** The API as a leader may use it: once leadership is lost, the next request fails instead of writing. */
function whileLeading(api: KubeApi, signal: AbortSignal): KubeApi {
  const leading = () => {
    if (signal.aborted) throw new KubeApiError(0, 'NotLeading', 'no longer leading: stopped before the next request');
  };
  return {
    kindOf: (apiVersion, kind) => api.kindOf(apiVersion, kind),
    get: async (ref) => (leading(), api.get(ref)),
    list: async (apiVersion, kind, o) => (leading(), api.list(apiVersion, kind, o)),
    create: async (obj, o) => (leading(), api.create(obj, o)),
    apply: async (obj, o) => (leading(), api.apply(obj, o)),
    mergePatch: async (ref, patch, o) => (leading(), api.mergePatch(ref, patch, o)),
    remove: async (ref) => (leading(), api.remove(ref)),
  };
}

const WATCHED_WORKLOADS = [
  { plural: 'statefulsets', kind: 'StatefulSet' },
  { plural: 'deployments', kind: 'Deployment' },
];

export function createOperator(opts: OperatorOptions): Operator {
  const { kubeConfig, namespace, log, metrics } = opts;
  const resyncMs = opts.resyncMs ?? RESYNC_MS;
  const api: KubeApi = createKubeApi(kubeConfig);
  const syncs = createBackendSyncs({ kubeConfig, identity: opts.identity, log, ...opts.backendLease });
  const baseDeps: ReconcileDeps = {
    api,
    log,
    metrics,
    syncs,
    scope: opts.scope ?? NAMESPACED_SCOPE,
    ...(opts.operatorNamespace ? { operatorNamespace: opts.operatorNamespace } : {}),
    ...(opts.directorEndpoints ? { directorEndpoints: opts.directorEndpoints } : {}),
  };
  const inScope = (key: string) => namespace === undefined || key.startsWith(`${namespace}/`);
  const listPlatforms = () => api.list(MAILPLATFORM_KIND.apiVersion, MAILPLATFORM_KIND.kind, namespace === undefined ? {} : { namespace });
  // Platforms render into their own namespace unless the installer allowed otherwise: then that is where workloads are.
  const workloadNamespace = (opts.scope ?? NAMESPACED_SCOPE).allowCrossNamespace ? undefined : namespace;
  let watches: ResourceWatch[] = [];

  async function resync(queue: ReturnType<typeof createWorkQueue>, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        for (const p of (await listPlatforms()).items) queue.add(keyOf(p));
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'resync list failed');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, resyncMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  async function work(queue: ReturnType<typeof createWorkQueue>, signal: AbortSignal): Promise<void> {
    const deps: ReconcileDeps = { ...baseDeps, api: whileLeading(api, signal) };
    for (let key = await queue.next(signal); key !== undefined; key = await queue.next(signal)) {
      const stop = metrics.reconcileDuration.startTimer();
      try {
        const outcome = await reconcilePlatform(deps, key);
        metrics.reconciles.inc({ result: outcome.result });
        queue.forget(key);
        if (outcome.requeueAfterMs !== undefined) queue.addAfter(key, outcome.requeueAfterMs);
      } catch (err) {
        metrics.reconciles.inc({ result: 'error' });
        const retryInMs = queue.addRateLimited(key);
        const expected = isRetryable(err) || isMailfleetError(err, 'KUBE_FAILED');
        log[expected ? 'warn' : 'error']({ platform: key, err: errorMessage(err), retryInMs }, 'reconcile failed');
        if (queue.failures(key) === FAILURES_BEFORE_REPORT) await reportApiError(deps, key, err);
      } finally {
        stop();
      }
    }
  }

  return {
    async start(signal) {
      const queue = createWorkQueue();
      const enqueue = (key: string | undefined) => {
        if (key && inScope(key)) queue.add(key);
      };
      const platformPath = `/apis/${MAILPLATFORM_KIND.apiVersion}${namespace === undefined ? '' : `/namespaces/${namespace}`}/${MAILPLATFORM_KIND.plural}`;
      watches = [
        watchResource({ kubeConfig, path: platformPath, list: listPlatforms, onObject: (o: KubeObject) => enqueue(keyOf(o)), log }),
        ...WATCHED_WORKLOADS.map(({ plural, kind }) => watchResource({
          kubeConfig,
          path: `/apis/apps/v1${workloadNamespace === undefined ? '' : `/namespaces/${workloadNamespace}`}/${plural}`,
          labelSelector: PLATFORM_LABEL,
          list: () => api.list('apps/v1', kind, { labelSelector: PLATFORM_LABEL, ...(workloadNamespace === undefined ? {} : { namespace: workloadNamespace }) }),
          onObject: (o: KubeObject) => enqueue(o.metadata.annotations?.[OWNER_ANNOTATION]),
          log,
        })),
      ];
      metrics.leader.set(1);
      log.info({ namespace: namespace ?? '(all)', resyncMs }, 'operator leading');
      try {
        await Promise.all(watches.map((w) => w.start()));
        await Promise.all([resync(queue, signal), work(queue, signal)]);
      } finally {
        queue.close();
        await Promise.all(watches.map((w) => w.stop()));
        watches = [];
        await syncs.stopAll();
        metrics.leader.set(0);
      }
    },
    synced: () => watches.length > 0 && watches.every((w) => w.synced()),
    registries: () => [metrics.registry, ...syncs.registries()],
  };
}
