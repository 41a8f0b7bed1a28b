/**
 * Request deadlines with one timer. Every request gets the same time, so deadlines expire in the order they were
 * set: the queue is first in, first out, and the timer is armed only for its head. Setting a deadline is a push;
 * ending one marks it, and the timer drops it when it reaches the head.
 */
export interface Deadline {
  /** The work finished in time: the deadline will not fire. */
  end(): void;
}

export interface DeadlineQueue {
  /** `expire` runs once `ms` (the queue's) have passed, unless the deadline is ended first. */
  add(expire: () => void): Deadline;
  /** Ends every deadline without firing it, and the timer. */
  clear(): void;
}

interface Entry extends Deadline {
  readonly at: number;
  /** Dropped once ended: an entry waits in the queue until its time, and must not keep a request alive that long. */
  expire: (() => void) | undefined;
}

export function createDeadlineQueue(ms: number, now: () => number = performance.now.bind(performance)): DeadlineQueue {
  let entries: Entry[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;

  function arm(): void {
    const first = entries[head];
    if (!first) return;
    timer = setTimeout(fire, Math.max(1, Math.ceil(first.at - now())));
    timer.unref();
  }

  function fire(): void {
    timer = undefined;
    const t = now();
    while (head < entries.length) {
      const entry = entries[head] as Entry;
      if (entry.expire !== undefined && entry.at > t) break;
      head++;
      const expire = entry.expire;
      entry.expire = undefined;
      expire?.();
    }
    if (head === entries.length) {
      entries = [];
      head = 0;
    } else if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head);
      head = 0;
    }
    arm();
  }

  return {
    add(expire) {
      const entry: Entry = { at: now() + ms, expire, end: () => void (entry.expire = undefined) };
      entries.push(entry);
      if (timer === undefined) arm();
      return entry;
    },
    clear() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (let i = head; i < entries.length; i++) (entries[i] as Entry).expire = undefined;
      entries = [];
      head = 0;
    },
  };
}
