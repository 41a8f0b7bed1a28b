/**
 * Backend sync, assembled once: the single-host runtime, `mailfleet controller` (either source) and the
 * operator all build it here and differ only in what they pass (where backends come from, where the
 * directors are, how to reach them, whether a Lease decides who writes).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MailfleetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { requireSecret, type PlatformSpec } from '../spec/index.ts';
import { createBackendController, DRAIN_TIMEOUT_MS, RESYNC_MS } from './controller.ts';
import { failoverSink } from './directors.ts';
import type { BackendMetrics } from './metrics.ts';
import { createRingSync } from './ring.ts';
import type { BackendSource, ConnectDirector, DirectorLocator } from './types.ts';
import { notRoutable, readViews, stillListing, type DirectorView } from './view.ts';

/** How long a scale waits for a ready backend to be routable: an event is applied in milliseconds; this covers retries after a busy or restarting ring. */
export const ROUTABLE_TIMEOUT_MS = 60_000;
const ROUTABLE_POLL_MS = 100;
const REMOVED_POLL_MS = 250;

/** Runs `lead` only while this replica may write (Kubernetes: holds the Lease); its signal aborts when that ends. */
export type Election = (signal: AbortSignal, lead: (signal: AbortSignal) => Promise<void>) => Promise<void>;

export interface BackendSyncOptions {
  /** Desired state: the mailbox backends. */
  source: BackendSource;
  /** Where the directors are (every proxy's); asked again on every pass. */
  directors: DirectorLocator;
  /** How to reach one director: `doveadmDirectors(…)`, or an in-memory ring in tests. */
  connect: ConnectDirector;
  /** Weight of a ready backend (`director add HOST VHOSTS`). */
  vhostCount: number;
  /** Periodic full reconcile; default RESYNC_MS. */
  resyncMs?: number;
  /** Longest wait for a leaving backend's users before it is removed anyway; default DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
  log: Logger;
  metrics: BackendMetrics;
  /** Who may write; default: this process, always. */
  elect?: Election;
  now?: () => number;
}

export interface BackendSync {
  /** Runs until `signal` aborts (under `elect`, only while leading). */
  start(signal: AbortSignal): Promise<void>;
  /** Schedules a reconcile. */
  enqueue(reason: string): void;
  /** Ready to serve: a standby is; a leader once its source has listed. */
  ready(): boolean;
  /** Every director's host list, asked now. */
  view(): Promise<DirectorView[]>;
  /** Resolves once every director lists `backend` up with a weight; throws BACKEND_NOT_ROUTABLE after `timeoutMs`. */
  waitRoutable(backend: { name: string; address: string }, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Resolves true once no answering director lists `address`, false after `timeoutMs`. */
  waitRemoved(address: string, timeoutMs: number): Promise<boolean>;
}

/** The settings a platform spec gives backend sync. */
export function syncSettings(spec: PlatformSpec): { vhostCount: number; resyncMs: number; drainTimeoutMs: number; apiKey: string; ringPort: number; doveadmPort: number } {
  return {
    vhostCount: spec.director.vhostCount,
    resyncMs: spec.director.resyncSeconds * 1000,
    drainTimeoutMs: spec.director.drainTimeoutSeconds * 1000,
    apiKey: requireSecret(spec, 'doveadmApiKey'),
    ringPort: spec.ports.director,
    doveadmPort: spec.ports.doveadm,
  };
}

export function createBackendSync(opts: BackendSyncOptions): BackendSync {
  const { source, directors, connect, log } = opts;
  const now = opts.now ?? Date.now;
  const ring = createRingSync({ connect, log });
  const controller = createBackendController({
    source,
    sink: failoverSink(async () => (await directors()).map(connect)),
    syncRing: async () => ring.sync(await directors()),
    vhostCount: opts.vhostCount,
    resyncMs: opts.resyncMs ?? RESYNC_MS,
    drainTimeoutMs: opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS,
    log,
    metrics: opts.metrics,
    now,
  });
  let leading = !opts.elect;

  const view = async () => readViews(await directors(), connect);

  return {
    enqueue: (reason) => controller.enqueue(reason),
    ready: () => !leading || source.list() !== undefined,
    view,
    async start(signal) {
      if (!opts.elect) return controller.start(signal);
      await opts.elect(signal, async (leaderSignal) => {
        leading = true;
        try {
          await controller.start(leaderSignal);
        } finally {
          leading = false;
        }
      });
    },
    async waitRoutable(backend, timeoutMs, signal) {
      const deadline = now() + timeoutMs;
      for (;;) {
        const reasons = notRoutable(await view(), backend.address);
        if (reasons.length === 0) return;
        if (signal?.aborted || now() >= deadline) {
          throw new MailfleetError('BACKEND_NOT_ROUTABLE', `${backend.name} (${backend.address}) is ready but not in every director after ${Math.round(timeoutMs / 1000)} s`, { details: reasons });
        }
        await delay(ROUTABLE_POLL_MS, undefined, { signal }).catch(() => undefined);
      }
    },
    async waitRemoved(address, timeoutMs) {
      const deadline = now() + timeoutMs;
      while (stillListing(await view(), address).length > 0) {
        if (now() >= deadline) return false;
        await delay(REMOVED_POLL_MS);
      }
      return true;
    },
  };
}
