/**
 * client-node informers that keep running: ListWatch relists by itself on 410 Gone but stops on any
 * other error (a dropped connection, a failed list), so a stopped informer is replaced by a fresh one
 * (a restarted one would resume from its old resourceVersion) with backoff. Events only name what to
 * reconcile; the periodic resync repairs whatever a silently stalled watch missed.
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../../../errors.ts';
import type { Logger } from '../../../log.ts';
import type { KubeObject } from '../objects.ts';
import type { ListResult } from './api.ts';

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 30_000;

export interface ResourceWatch {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Listed at least once since the last (re)start. */
  synced(): boolean;
  restarts(): number;
}

export interface ResourceWatchOptions {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. `/apis/apps/v1/statefulsets` or `/apis/mailfleet.io/v1alpha1/namespaces/NS/mailplatforms`. */
  path: string;
  list: () => Promise<ListResult>;
  labelSelector?: string;
  /** Every added, changed or deleted object. */
  onObject: (obj: KubeObject) => void;
  log: Logger;
}

export function watchResource(opts: ResourceWatchOptions): ResourceWatch {
  const { log } = opts;
  const listFn = async () => {
    const { items, resourceVersion } = await opts.list();
    return { metadata: { resourceVersion }, items: items as KubernetesObject[] };
  };
  let current: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>) | undefined;
  let synced = false;
  let stopped = false;
  let restarting = false;
  let restarts = 0;

  function fresh(): Informer<KubernetesObject> & ObjectCache<KubernetesObject> {
    const inf = makeInformer<KubernetesObject>(opts.kubeConfig, opts.path, listFn, opts.labelSelector);
    const forward = (obj: KubernetesObject) => {
      if (inf === current && !stopped) opts.onObject(obj as KubeObject);
    };
    inf.on('add', forward);
    inf.on('update', forward);
    inf.on('delete', forward);
    inf.on('error', (err: unknown) => {
      if (inf !== current || stopped) return;
      synced = false;
      log.warn({ path: opts.path, err: errorMessage(err) }, 'watch failed; restarting');
      void restart();
    });
    return inf;
  }

  async function startFresh(): Promise<void> {
    const old = current;
    current = fresh();
    await old?.stop().catch(() => undefined);
    synced = false;
    const inf = current;
    await inf.start();
    // start() resolves after the list, or after reporting a failed list as an error.
    if (inf === current && !restarting) synced = true;
  }

  async function restart(): Promise<void> {
    if (restarting || stopped) return;
    restarting = true;
    for (let attempt = 1; !stopped; attempt++) {
      await delay(Math.min(RESTART_MIN_MS * 2 ** (attempt - 1), RESTART_MAX_MS));
      if (stopped) break;
      let failed = false;
      const onError = () => (failed = true);
      try {
        const old = current;
        current = fresh();
        current.on('error', onError);
        await old?.stop().catch(() => undefined);
        await current.start();
      } catch {
        failed = true;
      }
      current?.off('error', onError);
      if (!failed) {
        restarts++;
        synced = true;
        log.info({ path: opts.path, attempt }, 'watch restarted');
        break;
      }
    }
    restarting = false;
  }

  return {
    async start() {
      stopped = false;
      await startFresh();
    },
    async stop() {
      stopped = true;
      await current?.stop().catch(() => undefined);
    },
    synced: () => synced,
    restarts: () => restarts,
  };
}
