/**
 * What the relay remembers of a mailbox's room, so that not every recipient costs a backend question (quota-status
 * sets up the whole mail user for each: about 1.8 ms of the backend's CPU). The relay asks for the message's size plus
 * {@link HEADROOM_BYTES}; a DUNNO then says the mailbox has at least that much room, and every message let through on
 * it is taken off what is left. A question the room left does not cover goes to the backend as before, with the
 * message's own size when the padded one is refused, so a mailbox near its limit is judged exactly.
 *
 * What it cannot see: deliveries through other proxies and mail added otherwise (IMAP APPEND) in the meantime. So an
 * entry lives {@link ROOM_TTL_MS} at most, and a mailbox can go past its quota by at most the headroom once per proxy
 * and per TTL; the backend then refuses at LMTP, as it did before this check. Pure: no timers, the time is given.
 */

/** How much room beyond the message the relay asks about. */
export const HEADROOM_BYTES = 10 * 1024 * 1024;
/** How long an answer is believed. */
export const ROOM_TTL_MS = 30_000;
/** Mailboxes remembered at most (about 100 bytes each); the least recently asked go first. */
export const ROOM_MAX_ENTRIES = 50_000;

export interface RoomCache {
  /** True, and `size` taken off, when the room remembered for `user` covers it. */
  take(user: string, size: number, now: number): boolean;
  /** The backend said DUNNO for `askedBytes`, of which the message's `size` is let through now. */
  remember(user: string, askedBytes: number, size: number, now: number): void;
  readonly size: number;
}

export function createRoomCache(opts: { ttlMs?: number; maxEntries?: number } = {}): RoomCache {
  const ttlMs = opts.ttlMs ?? ROOM_TTL_MS;
  const maxEntries = opts.maxEntries ?? ROOM_MAX_ENTRIES;
  const rooms = new Map<string, { bytes: number; since: number }>();
  return {
    take(user, size, now) {
      const room = rooms.get(user);
      if (!room) return false;
      if (now - room.since > ttlMs || now < room.since) {
        rooms.delete(user);
        return false;
      }
      if (size > room.bytes) return false;
      room.bytes -= size;
      // Most recently asked last: the first in the map is the one to drop at the cap.
      rooms.delete(user);
      rooms.set(user, room);
      return true;
    },
    remember(user, askedBytes, size, now) {
      rooms.delete(user);
      const bytes = askedBytes - size;
      if (bytes <= 0) return;
      rooms.set(user, { bytes, since: now });
      while (rooms.size > maxEntries) {
        const oldest = rooms.keys().next().value;
        if (oldest === undefined) break;
        rooms.delete(oldest);
      }
    },
    get size() {
      return rooms.size;
    },
  };
}
