/**
 * Making room at a connection cap: the listeners (the LMTP router, the policy server) give a newcomer the place
 * of the connection that has waited longest for its client, so connections held open and silent cannot shut the
 * real clients out.
 */

/** What can say since when it has waited for its client; undefined while it is busy (or closing). */
export interface Idler {
  idleSince(): number | undefined;
}

/** Of `items`, the one idle longest, if it has been idle `minIdleMs` or more at `now`. */
export function longestIdle<T extends Idler>(items: Iterable<T>, minIdleMs: number, now: number): { item: T; idleMs: number } | undefined {
  let found: T | undefined;
  let oldest = now - minIdleMs;
  for (const item of items) {
    const since = item.idleSince();
    if (since !== undefined && since <= oldest) {
      found = item;
      oldest = since;
    }
  }
  return found === undefined ? undefined : { item: found, idleMs: now - oldest };
}
