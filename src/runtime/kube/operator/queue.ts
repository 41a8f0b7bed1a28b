/**
 * A work queue of MailPlatform keys (`namespace/name`): a key is queued at most once however many
 * events name it, may be queued for later (backoff, requeue), and waits for a worker.
 */
export const BACKOFF_MIN_MS = 200;
export const BACKOFF_MAX_MS = 60_000;

export interface WorkQueue {
  /** Queues now (a delayed add for the key is superseded, unless it is an error backoff). */
  add(key: string): void;
  /** Queues after `ms`, unless the key is queued sooner anyway. */
  addAfter(key: string, ms: number): void;
  /** Queues after this key's next backoff delay and returns that delay. */
  addRateLimited(key: string): number;
  /** Resets the key's backoff after a success. */
  forget(key: string): void;
  /** Consecutive failures of the key so far. */
  failures(key: string): number;
  /** The next key, or undefined once `signal` aborts. */
  next(signal: AbortSignal): Promise<string | undefined>;
  /** Stops every timer. */
  close(): void;
}

export function backoffDelayMs(failures: number): number {
  return Math.min(BACKOFF_MIN_MS * 2 ** Math.max(0, failures - 1), BACKOFF_MAX_MS);
}

export function createWorkQueue(): WorkQueue {
  const ready: string[] = [];
  const queued = new Set<string>();
  const later = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  const failureCounts = new Map<string, number>();
  let wake: (() => void) | undefined;

  function add(key: string): void {
    const pending = later.get(key);
    // An event does not cut an error backoff short: the retry comes when the backoff ends.
    if (pending && failureCounts.has(key)) return;
    if (pending) {
      clearTimeout(pending.timer);
      later.delete(key);
    }
    if (queued.has(key)) return;
    queued.add(key);
    ready.push(key);
    wake?.();
  }

  function addAfter(key: string, ms: number): void {
    if (ms <= 0) return add(key);
    if (queued.has(key)) return;
    const at = Date.now() + ms;
    const pending = later.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      later.delete(key);
      if (queued.has(key)) return;
      queued.add(key);
      ready.push(key);
      wake?.();
    }, ms);
    later.set(key, { at, timer });
  }

  return {
    add,
    addAfter,
    addRateLimited(key) {
      const n = (failureCounts.get(key) ?? 0) + 1;
      failureCounts.set(key, n);
      const ms = backoffDelayMs(n);
      addAfter(key, ms);
      return ms;
    },
    forget: (key) => void failureCounts.delete(key),
    failures: (key) => failureCounts.get(key) ?? 0,
    async next(signal) {
      while (!signal.aborted) {
        const key = ready.shift();
        if (key !== undefined) {
          queued.delete(key);
          return key;
        }
        await new Promise<void>((resolve) => {
          const done = () => {
            wake = undefined;
            signal.removeEventListener('abort', done);
            resolve();
          };
          wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
      }
      return undefined;
    },
    close() {
      for (const { timer } of later.values()) clearTimeout(timer);
      later.clear();
    },
  };
}
