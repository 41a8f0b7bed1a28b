import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import { DirectorError } from './director-error.ts';
import type { BackendMetrics } from './metrics.ts';
import { plan, recordStep } from './plan.ts';
import type { BackendSource, DirectorHost, DirectorSink, DrainState, Step } from './types.ts';

/** A backend as the director lists it, for the `mailfleet_backends` gauge. */
type BackendState = 'up' | 'down' | 'draining';

export const RESYNC_MS = 30_000;
export const DRAIN_TIMEOUT_MS = 60_000;
export const DRAIN_POLL_MS = 250;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 30_000;
const TEMPFAIL_RETRIES = 5;

export interface BackendControllerOptions {
  source: BackendSource;
  sink: DirectorSink;
  vhostCount: number;
  log: Logger;
  metrics: BackendMetrics;
  resyncMs?: number;
  drainTimeoutMs?: number;
  now?: () => number;
  /** Keeps the directors' ring membership current too (proxies that moved); run before the backends, true when it changed something. */
  syncRing?: () => Promise<boolean>;
}

export interface BackendController {
  /** Runs until `signal` aborts. Events only schedule a reconcile; a periodic resync repairs drift. */
  start(signal: AbortSignal): Promise<void>;
  /** Schedules a reconcile (coalesced with any already pending). */
  enqueue(reason: string): void;
}

/**
 * Level-triggered backend sync: every run reads the full desired state (ready mailbox endpoints) and the
 * full actual state (the director's host list), plans with a pure function and applies the steps.
 * Nothing is written when they agree. Errors are retried with exponential backoff; none stops the loop.
 */
export function createBackendController(opts: BackendControllerOptions): BackendController {
  const { source, sink, log, metrics } = opts;
  const now = opts.now ?? Date.now;
  const resyncMs = opts.resyncMs ?? RESYNC_MS;
  const drainTimeoutMs = opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
  const drains = new Map<string, DrainState>();
  let pending = true;
  let wake: () => void = () => undefined;

  function enqueue(reason: string): void {
    log.debug({ reason }, 'reconcile scheduled');
    pending = true;
    wake();
  }

  async function applyWithRetry(step: Step): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await sink.apply(step);
        return;
      } catch (err) {
        // "host is already being updated - try again later": the ring is busy with an earlier change.
        if (err instanceof DirectorError && err.kind === 'tempfail' && attempt < TEMPFAIL_RETRIES) {
          await delay(50 * attempt);
          continue;
        }
        throw err;
      }
    }
  }

  function publish(hosts: DirectorHost[]): void {
    // Every state is published, 0 included: "no backend up" must be a series at 0, not a missing one.
    const counts: Record<BackendState, number> = { up: 0, down: 0, draining: 0 };
    metrics.users.reset();
    for (const h of hosts) {
      counts[drains.has(h.address) || h.vhosts === 0 ? 'draining' : h.up ? 'up' : 'down']++;
      metrics.users.set({ backend: h.address }, h.users);
    }
    for (const [state, n] of Object.entries(counts)) metrics.backends.set({ state }, n);
  }

  /** One reconcile; returns true when a follow-up soon is needed (changes to confirm, a drain in progress). */
  async function reconcile(): Promise<boolean> {
    const desired = source.list();
    if (desired === undefined) return false;
    if (opts.syncRing && (await opts.syncRing())) {
      // Confirm the ring in a follow-up run before planning backends against it.
      pending = true;
      return true;
    }
    const stop = metrics.reconcileDuration.startTimer();
    const actual = await sink.list();
    const steps = plan(desired, actual, drains, { vhostCount: opts.vhostCount, drainTimeoutMs, now: now() });
    for (const step of steps) {
      log.info({ op: step.op, backend: step.address, reason: step.reason }, 'director change');
      await applyWithRetry(step);
      recordStep(drains, step, now());
      metrics.steps.inc({ op: step.op });
      if (step.op === 'add' || step.op === 'up' || (step.op === 'update' && step.vhosts > 0)) {
        const b = desired.find((d) => d.address === step.address);
        if (b?.readySince !== undefined) metrics.syncLatency.observe(Math.max(0, now() - b.readySince) / 1000);
      }
    }
    stop();
    metrics.reconciles.inc({ result: steps.length > 0 ? 'applied' : 'noop' });
    if (steps.length > 0) {
      // Confirm the outcome in a follow-up run rather than here, so a change that arrived meanwhile
      // is planned in the same read.
      pending = true;
      return true;
    }
    for (const address of [...drains.keys()]) if (!actual.some((h) => h.address === address)) drains.delete(address);
    publish(actual);
    return drains.size > 0;
  }

  return {
    enqueue,
    async start(signal) {
      source.onChange(() => enqueue('source changed'));
      const sourceDone = source.start(signal).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'source stopped'));
      let failures = 0;
      while (!signal.aborted) {
        let sleepMs = resyncMs;
        if (pending) {
          pending = false;
          try {
            sleepMs = (await reconcile()) ? DRAIN_POLL_MS : resyncMs;
            failures = 0;
          } catch (err) {
            const kind = err instanceof DirectorError ? err.kind : 'failed';
            metrics.errors.inc({ kind });
            metrics.reconciles.inc({ result: 'error' });
            if (kind === 'unavailable') {
              // No proxy is ready: the next proxy endpoint event brings us back; no backoff needed.
              failures = 0;
              log.info({ err: errorMessage(err) }, 'waiting for a ready proxy');
            } else {
              failures++;
              sleepMs = Math.min(BACKOFF_MIN_MS * 2 ** (failures - 1), BACKOFF_MAX_MS);
              log.warn({ err: errorMessage(err), kind, retryInMs: sleepMs }, 'reconcile failed');
            }
          }
        }
        // Events cut the wait short, except during an error backoff.
        await sleep(sleepMs, failures === 0, signal);
      }
      wake = () => undefined;
      await sourceDone;
    },
  };

  function sleep(ms: number, wakeable: boolean, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        wake = () => undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        pending = true;
        finish();
      }, ms);
      signal.addEventListener('abort', finish, { once: true });
      wake = wakeable ? finish : () => undefined;
      if (wakeable && pending) finish();
    });
  }
}
