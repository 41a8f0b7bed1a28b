/**
 * A latency histogram over whole microseconds with HdrHistogram's log-linear layout: every value below 128 µs has
 * its own bucket, and each power of two above is split into 64 buckets, so a value read back is within 1/128
 * (0.8 %) of what was recorded. It is one fixed array of counts whatever the number of values: recording
 * allocates nothing, and the load generator records every request, not a sample of them.
 */

/** Values below 2^SUB_BITS µs are exact. */
const SUB_BITS = 7;
const EXACT = 1 << SUB_BITS;
const HALF = EXACT >> 1;
/** Largest value kept apart: 2^31 − 1 µs (about 36 minutes); larger ones count as this. */
export const MAX_TRACKED_US = 0x7fffffff;
/** Buckets: 128 exact ones, then 64 per power of two from 2^7 to 2^30. */
export const BUCKETS = EXACT + (31 - SUB_BITS) * HALF;

/** The bucket of `us` (rounded to a whole, negative as 0, beyond {@link MAX_TRACKED_US} as that). */
export function bucketOf(us: number): number {
  const v = us >= MAX_TRACKED_US ? MAX_TRACKED_US : us > 0 ? Math.round(us) : 0;
  if (v < EXACT) return v;
  const msb = 31 - Math.clz32(v);
  const shift = msb - (SUB_BITS - 1);
  return EXACT + (shift - 1) * HALF + ((v >>> shift) - HALF);
}

/** The smallest value of bucket `i` and how many whole values it holds. */
export function bucketRange(i: number): { low: number; width: number } {
  if (i < EXACT) return { low: i, width: 1 };
  const shift = Math.floor((i - EXACT) / HALF) + 1;
  const mantissa = ((i - EXACT) % HALF) + HALF;
  return { low: mantissa * 2 ** shift, width: 2 ** shift };
}

export interface LatencySummary {
  count: number;
  /** Microseconds. */
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface Histogram {
  record(us: number): void;
  readonly count: number;
  /** The value at percentile `p` (0–100) by nearest rank, in µs: the middle of its bucket, kept within min…max. */
  percentile(p: number): number;
  summary(): LatencySummary;
  reset(): void;
}

export function createHistogram(): Histogram {
  const counts = new Float64Array(BUCKETS);
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  const percentile = (p: number): number => {
    if (count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((Math.min(Math.max(p, 0), 100) / 100) * count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += counts[i] as number;
      if (seen >= rank) {
        const { low, width } = bucketRange(i);
        return Math.min(max, Math.max(min, width === 1 ? low : low + (width - 1) / 2));
      }
    }
    return max;
  };
  return {
    record(us) {
      const i = bucketOf(us);
      counts[i] = (counts[i] as number) + 1;
      count++;
      const v = us > 0 ? us : 0;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
    },
    get count() {
      return count;
    },
    percentile,
    summary: () => ({
      count,
      mean: count === 0 ? NaN : sum / count,
      min: count === 0 ? NaN : min,
      p50: percentile(50),
      p90: percentile(90),
      p99: percentile(99),
      p999: percentile(99.9),
      max: count === 0 ? NaN : max,
    }),
    reset() {
      counts.fill(0);
      count = 0;
      sum = 0;
      min = Infinity;
      max = -Infinity;
    },
  };
}
