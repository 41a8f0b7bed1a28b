import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Election } from './sync.ts';

export interface LeaseOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This replica's identity (the pod name). */
  identity: string;
  leaseDurationMs?: number;
  renewMs?: number;
  log: Logger;
  now?: () => number;
}

function status(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

/**
 * Lease-based leader election with optimistic concurrency (coordination.k8s.io/v1): one writer at a time.
 * `lead(signal)` runs while this replica holds the lease; its signal aborts when the lease is lost.
 */
export async function runWithLease(opts: LeaseOptions, signal: AbortSignal, lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
  const now = opts.now ?? Date.now;
  const durationMs = opts.leaseDurationMs ?? 15_000;
  const renewMs = opts.renewMs ?? 5_000;
  const { namespace, name, identity, log } = opts;
  let leading: { abort: AbortController; done: Promise<void> } | undefined;

  const spec = (acquire: boolean, current?: V1Lease): V1Lease['spec'] => ({
    holderIdentity: identity,
    leaseDurationSeconds: Math.ceil(durationMs / 1000),
    renewTime: new Date(now()),
    acquireTime: acquire ? new Date(now()) : current?.spec?.acquireTime,
    leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (acquire && current ? 1 : 0),
  });

  async function tryAcquireOrRenew(): Promise<boolean> {
    let current: V1Lease;
    try {
      current = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (status(err) !== 404) throw err;
      try {
        await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(true) } });
        return true;
      } catch (createErr) {
        if (status(createErr) === 409) return false;
        throw createErr;
      }
    }
    const holder = current.spec?.holderIdentity;
    const renewed = current.spec?.renewTime ? new Date(current.spec.renewTime).getTime() : 0;
    const expired = now() - renewed > (current.spec?.leaseDurationSeconds ?? 15) * 1000;
    if (holder && holder !== identity && !expired) return false;
    try {
      await api.replaceNamespacedLease({ name, namespace, body: { ...current, spec: spec(holder !== identity, current) } });
      return true;
    } catch (err) {
      if (status(err) === 409) return false;
      throw err;
    }
  }

  function stopLeading(reason: string): Promise<void> {
    if (!leading) return Promise.resolve();
    log.warn({ reason }, 'leadership lost');
    leading.abort.abort();
    const done = leading.done;
    leading = undefined;
    return done;
  }

  let lastRenewed = 0;
  while (!signal.aborted) {
    try {
      const held = await tryAcquireOrRenew();
      if (held) {
        lastRenewed = now();
        if (!leading) {
          log.info({ lease: name, identity }, 'leadership acquired');
          const abort = new AbortController();
          leading = { abort, done: lead(abort.signal).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'leader work failed')) };
        }
      } else {
        await stopLeading('another replica holds the lease');
      }
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'lease renewal failed');
      // Without a renewal for a whole lease duration another replica may take over: stop writing first.
      if (leading && now() - lastRenewed > durationMs - renewMs) await stopLeading('lease could not be renewed');
    }
    await delay(leading ? renewMs : renewMs / 2, undefined, { signal }).catch(() => undefined);
  }
  await stopLeading('shutting down');
}

/** The Lease as backend sync's election: one writer among replicas (and the operator) at a time. */
export function leaseElection(opts: LeaseOptions): Election {
  return (signal, lead) => runWithLease(opts, signal, lead);
}
