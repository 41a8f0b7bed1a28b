import { setTimeout as delay } from 'node:timers/promises';

/** What a reload is for: the configs were re-rendered (peers moved), or only the certificates changed. */
export type ReloadKind = 'config' | 'certificates';

export interface ReloadQueueOptions {
  /** Runs one reload; a config reload also loads new certificates. */
  run: (kind: ReloadKind) => Promise<void>;
  /** Requests arriving this soon after the first are served by one reload. */
  gatherMs: number;
  /**
   * Time the daemon needs after a reload before the next one: a Dovecot master re-creates its sockets and
   * starts a new generation of processes, and a second SIGHUP within that window leaves processes without
   * their config socket.
   */
  settleMs: number;
}

export interface ReloadQueue {
  /** Resolves once a reload begun after this call has finished; rejects with that reload's error. */
  request(kind: ReloadKind): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * One reload at a time, requests coalesced: the runtime's peer changes come in pairs (an instance gone, its
 * successor started) and a certificate renewal may coincide with them; each burst makes one reload, and
 * reloads are at least `settleMs` apart.
 */
export function createReloadQueue(opts: ReloadQueueOptions): ReloadQueue {
  let pending: { kind: ReloadKind; waiters: Waiter[] } | undefined;
  let worker: Promise<void> | undefined;

  async function work(): Promise<void> {
    await delay(opts.gatherMs);
    while (pending) {
      const batch = pending;
      pending = undefined;
      try {
        await opts.run(batch.kind);
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        for (const w of batch.waiters) w.reject(err);
      }
      await delay(opts.settleMs);
    }
    worker = undefined;
  }

  return {
    request(kind) {
      return new Promise<void>((resolve, reject) => {
        if (pending) {
          if (kind === 'config') pending.kind = 'config';
          pending.waiters.push({ resolve, reject });
        } else {
          pending = { kind, waiters: [{ resolve, reject }] };
        }
        worker ??= work();
      });
    },
  };
}
