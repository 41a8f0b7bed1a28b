/**
 * Request deadlines with one timer. Every request gets the same time, so deadlines expire in the order they were
 * set: the queue is first in, first out, and the timer is armed only for its head. Setting a deadline is a push;
 * ending one marks it, and ended deadlines at the head are dropped at once. Requests end about in the order they
 * came (Redis answers in order), so the queue holds little more than the requests in flight: nothing of a request
 * stays reachable until its time would have passed, which at thousands a second would move every request's
 * objects into the old generation and grow the heap under load.
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
  /** Deadlines set and neither ended nor fired, and ended ones still queued behind them. */
  size(): number;
}

/** Dropped entries at the front of the array before it is compacted. */
const COMPACT_AFTER = 1024;

export function createDeadlineQueue(ms: number, now: () => number = performance.now.bind(performance)): DeadlineQueue {
  let entries: (Entry | undefined)[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;

  class Entry implements Deadline {
    readonly at: number;
    /** Dropped once ended: an ended entry behind a waiting one must not keep its request alive. */
    expire: (() => void) | undefined;
    constructor(expire: () => void) {
      this.at = now() + ms;
      this.expire = expire;
    }
    end(): void {
      if (this.expire === undefined) return;
      this.expire = undefined;
      if (entries[head] === this) dropEnded();
    }
  }

  /** Moves the head past ended entries, releasing them. */
  function dropEnded(): void {
    while (head < entries.length && (entries[head] as Entry).expire === undefined) entries[head++] = undefined;
    if (head === entries.length) {
      entries = [];
      head = 0;
    } else if (head > COMPACT_AFTER && head * 2 > entries.length) {
      entries = entries.slice(head);
      head = 0;
    }
  }

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
      entries[head++] = undefined;
      const expire = entry.expire;
      entry.expire = undefined;
      expire?.();
    }
    dropEnded();
    arm();
  }

  return {
    add(expire) {
      const entry = new Entry(expire);
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
    size: () => entries.length - head,
  };
}
