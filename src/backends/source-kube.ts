import { DiscoveryV1Api, makeInformer, type Informer, type KubeConfig, type ObjectCache, type V1EndpointSlice } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Backend, BackendSource } from './types.ts';

export const WATCHDOG_RELIST_MS = 60_000;
const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 30_000;

export interface EndpointSliceSourceOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The mailbox Service; slices are selected by `kubernetes.io/service-name`. */
  service: string;
  log: Logger;
  /** How often the watchdog re-lists to catch a silently stalled watch. */
  relistMs?: number;
  now?: () => number;
}

/**
 * Backends from a slice list: one per address, keyed by pod name, with the discovery.k8s.io/v1 conditions.
 * `ready` nil means ready; `terminating` nil means not terminating (API reference, EndpointConditions).
 */
export function backendsFromSlices(slices: readonly V1EndpointSlice[]): Omit<Backend, 'readySince'>[] {
  const byAddress = new Map<string, Omit<Backend, 'readySince'>>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    for (const e of slice.endpoints ?? []) {
      const address = e.addresses[0];
      if (!address) continue;
      const terminating = e.conditions?.terminating === true;
      const ready = e.conditions?.ready !== false && !terminating;
      const name = e.targetRef?.name ?? e.hostname ?? address;
      byAddress.set(address, { name, address, ready, terminating });
    }
  }
  return [...byAddress.values()].sort((a, b) => a.address.localeCompare(b.address));
}

/**
 * Desired state from the EndpointSlices of the mailbox Service, through client-node's informer.
 * The informer stops on any error but 410; it is restarted with backoff. A watchdog re-lists on a timer:
 * when the list disagrees with the informer's cache the watch has stalled (half-open TCP), so the
 * list wins and the informer is restarted.
 */
export function createEndpointSliceSource(opts: EndpointSliceSourceOptions): BackendSource & { restarts(): number } {
  const { namespace, service, log } = opts;
  const now = opts.now ?? Date.now;
  const relistMs = opts.relistMs ?? WATCHDOG_RELIST_MS;
  const labelSelector = `kubernetes.io/service-name=${service}`;
  const api = opts.kubeConfig.makeApiClient(DiscoveryV1Api);
  const listFn = () => api.listNamespacedEndpointSlice({ namespace, labelSelector });
  const listeners: (() => void)[] = [];
  const readySince = new Map<string, number>();
  let snapshot: Omit<Backend, 'readySince'>[] | undefined;
  let restarts = 0;
  let restartPending = false;
  let stopped = false;

  function publish(next: Omit<Backend, 'readySince'>[]): void {
    const changed = JSON.stringify(next) !== JSON.stringify(snapshot);
    snapshot = next;
    const live = new Set<string>();
    for (const b of next) {
      const key = `${b.name}@${b.address}`;
      live.add(key);
      if (b.ready && !readySince.has(key)) readySince.set(key, now());
      if (!b.ready) readySince.delete(key);
    }
    for (const key of [...readySince.keys()]) if (!live.has(key)) readySince.delete(key);
    if (changed) for (const l of listeners) l();
  }

  /**
   * A fresh informer: client-node's `start()` after `stop()` resumes from the last resourceVersion without
   * relisting, so repairing a stale cache takes a new informer. Events of a replaced informer (its `stop()`
   * itself fires `error` with an AbortError) are ignored.
   */
  function newInformer(): Informer<V1EndpointSlice> & ObjectCache<V1EndpointSlice> {
    const inf = makeInformer<V1EndpointSlice>(opts.kubeConfig, `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, listFn, labelSelector);
    const fromCache = () => {
      if (inf === current && synced) publish(backendsFromSlices(inf.list(namespace)));
    };
    inf.on('add', fromCache);
    inf.on('update', fromCache);
    inf.on('delete', fromCache);
    inf.on('error', (err: unknown) => {
      if (inf !== current || stopped) return;
      log.warn({ err: errorMessage(err) }, 'endpointslice watch failed; restarting');
      void restart('watch error');
    });
    return inf;
  }

  let synced = false;
  let current = newInformer();

  async function startCurrent(): Promise<void> {
    synced = false;
    await current.start();
    synced = true;
    publish(backendsFromSlices(current.list(namespace)));
  }

  async function restart(reason: string): Promise<void> {
    if (restartPending || stopped) return;
    restartPending = true;
    for (let attempt = 1; !stopped; attempt++) {
      await delay(Math.min(RESTART_MIN_MS * 2 ** (attempt - 1), RESTART_MAX_MS));
      if (stopped) break;
      const old = current;
      current = newInformer();
      await old.stop().catch(() => undefined);
      try {
        await startCurrent();
        restarts++;
        log.info({ reason, attempt }, 'endpointslice informer restarted');
        break;
      } catch (err) {
        log.warn({ err: errorMessage(err), attempt }, 'endpointslice informer restart failed');
      }
    }
    restartPending = false;
  }

  async function watchdog(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await delay(relistMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      try {
        const listed = backendsFromSlices((await listFn()).items);
        const cached = backendsFromSlices(current.list(namespace));
        if (JSON.stringify(listed) !== JSON.stringify(cached)) {
          log.warn({ listed: listed.length, cached: cached.length }, 'watch out of date; relisting');
          publish(listed);
          void restart('watchdog found a stale cache');
        }
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'watchdog relist failed');
      }
    }
  }

  return {
    list: () => snapshot?.map((b) => ({ ...b, readySince: readySince.get(`${b.name}@${b.address}`) })),
    onChange: (l) => void listeners.push(l),
    restarts: () => restarts,
    async start(signal) {
      try {
        await startCurrent();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'endpointslice informer failed to start');
        void restart('start failed');
      }
      await watchdog(signal);
      stopped = true;
      await current.stop().catch(() => undefined);
    },
  };
}
