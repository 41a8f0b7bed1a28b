/**
 * Allowance a policy server took from Redis ahead of use (limiter-script.ts lends it with a request that was
 * counted there anyway), spent on later requests of the same buckets without a round trip to Redis.
 *
 * The limit still holds exactly: every unit spent here was counted in Redis when it was lent. What leases cost is
 * the other way round: units not spent within `lifetimeMs` count as used, so a client whose requests go to several
 * servers, or that sends fewer than LEASE_MAX_UNITS within a lifetime, may be refused somewhat early, by at most what
 * is lent and unspent. Near a limit nothing is lent (the script lends at most a quarter of the room left, nothing
 * below 4), so there the count is Redis's alone, request by request. Only buckets that count one unit a request are lent
 * (connections, messages, recipients); byte counts are always asked.
 *
 * Bounded: at most `maxEntries` leases; a full store sweeps out the ended ones and, when still full, takes no more.
 */

/** Units a bucket asks for beyond its request: enough that 16 requests in a row need one round trip. */
export const LEASE_MAX_UNITS = 16;
/** How long lent units may be spent; what is left then is given up. */
export const LEASE_LIFETIME_MS = 1000;
export const LEASE_MAX_ENTRIES = 65_536;

interface Lease {
  units: number;
  ends: number;
}

export interface LeaseStore {
  /**
   * Spends one unit of each key's lease where it has one; returns, per key, whether it did. `costs` are the
   * requests' costs per key: only a cost of 1 is spent from a lease.
   */
  spend(keys: readonly string[], costs: readonly number[]): boolean[];
  /** Gives back what `spend` took for the keys marked in `spent` (the request was refused, or not judged). */
  refund(keys: readonly string[], spent: readonly boolean[]): void;
  /** Adds `units` to the key's lease (a new lease when it has none or it ended). */
  lend(key: string, units: number): void;
  /**
   * The units to ask Redis to lend with a request of `key`: LEASE_MAX_UNITS unless a request already asking for
   * the key is out (every request in flight would be lent a share of the room, most of it then unspent), else 0.
   * `settled(key)` must follow once the asking request's answer (or failure) is in.
   */
  ask(key: string): number;
  settled(key: string): void;
  /** Ends every lease (the rules changed: their buckets may mean something else now). */
  clear(): void;
  readonly size: number;
}

export interface LeaseOptions {
  lifetimeMs?: number;
  maxEntries?: number;
  /** Milliseconds, monotonic; default performance.now. */
  now?: () => number;
}

export function createLeaseStore(opts: LeaseOptions = {}): LeaseStore {
  const lifetimeMs = opts.lifetimeMs ?? LEASE_LIFETIME_MS;
  const maxEntries = opts.maxEntries ?? LEASE_MAX_ENTRIES;
  const now = opts.now ?? (() => performance.now());
  const leases = new Map<string, Lease>();
  const asking = new Set<string>();
  let sweptAt = -Infinity;

  /** Drops ended leases; at most once a tenth of the lifetime, so a store full of live ones costs no scan a request. */
  function sweep(at: number): void {
    if (at - sweptAt < lifetimeMs / 10) return;
    sweptAt = at;
    for (const [key, lease] of leases) if (lease.ends <= at) leases.delete(key);
  }

  return {
    spend(keys, costs) {
      const at = now();
      return keys.map((key, i) => {
        if (costs[i] !== 1) return false;
        const lease = leases.get(key);
        if (lease === undefined) return false;
        if (lease.ends <= at) {
          leases.delete(key);
          return false;
        }
        if (lease.units <= 0) return false;
        lease.units--;
        return true;
      });
    },
    refund(keys, spent) {
      const at = now();
      keys.forEach((key, i) => {
        const lease = spent[i] ? leases.get(key) : undefined;
        // A lease that ended meanwhile keeps its unit lost, as every unit of an ended lease is.
        if (lease !== undefined && lease.ends > at) lease.units++;
      });
    },
    lend(key, units) {
      if (!(units > 0)) return;
      const at = now();
      const lease = leases.get(key);
      if (lease !== undefined && lease.ends > at) {
        lease.units += units;
        lease.ends = at + lifetimeMs;
        return;
      }
      if (lease === undefined && leases.size >= maxEntries) sweep(at);
      if (lease === undefined && leases.size >= maxEntries) return;
      leases.set(key, { units, ends: at + lifetimeMs });
    },
    ask(key) {
      if (asking.has(key) || asking.size >= maxEntries) return 0;
      asking.add(key);
      return LEASE_MAX_UNITS;
    },
    settled(key) {
      asking.delete(key);
    },
    clear() {
      leases.clear();
    },
    get size() {
      return leases.size;
    },
  };
}
