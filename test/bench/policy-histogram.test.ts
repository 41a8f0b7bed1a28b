import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../bench/exporter/random.ts';
import { bucketOf, bucketRange, BUCKETS, createHistogram, MAX_TRACKED_US } from '../../bench/policy/histogram.ts';

/** Nearest-rank percentile of sorted values: what the histogram approximates. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] as number;
}

describe('policy bench: latency histogram', () => {
  it('GIVEN whole values from 0 to the largest tracked THEN each lies in its bucket and buckets only grow', () => {
    const r = seededRandom(3);
    const values = [0, 1, 127, 128, 129, 255, 256, 1000, 65_535, 65_536, MAX_TRACKED_US, ...Array.from({ length: 5000 }, () => Math.floor(r.logUniform(1, MAX_TRACKED_US)))];
    values.sort((a, b) => a - b);
    let previous = -1;
    for (const v of values) {
      const i = bucketOf(v);
      const { low, width } = bucketRange(i);
      assert.ok(low <= v && v < low + width, `${v} in bucket ${i} [${low}, ${low + width})`);
      assert.ok(width === 1 || width / low <= 1 / 64, `bucket ${i} is at most 1/64 wide`);
      assert.ok(i >= previous);
      previous = i;
    }
    assert.equal(bucketOf(MAX_TRACKED_US), BUCKETS - 1);
  });

  it('GIVEN values beyond the range, negative or fractional THEN they land in the edge buckets or the nearest whole', () => {
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(1e12), BUCKETS - 1);
    assert.equal(bucketOf(Infinity), BUCKETS - 1);
    assert.equal(bucketOf(2.6), 3);
  });

  it('GIVEN values below 128 µs THEN every percentile is exact', () => {
    const h = createHistogram();
    const values = Array.from({ length: 1000 }, (_, i) => (i * 37) % 128);
    for (const v of values) h.record(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [0, 1, 50, 90, 99, 99.9, 100]) assert.equal(h.percentile(p), exact(sorted, p), `p${p}`);
  });

  it('GIVEN a million latencies spread from 10 µs to 1 s THEN the percentiles are within 1/128 of the exact ones, min and max exact', () => {
    const r = seededRandom(5);
    const h = createHistogram();
    const values = Array.from({ length: 1_000_000 }, () => r.logUniform(10, 1e6));
    for (const v of values) h.record(v);
    const sorted = values.map((v) => Math.round(v)).sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) {
      const want = exact(sorted, p);
      const got = h.percentile(p);
      assert.ok(Math.abs(got - want) <= want / 128 + 1, `p${p}: ${got} vs ${want}`);
    }
    const s = h.summary();
    assert.equal(s.count, values.length);
    assert.equal(s.max, values.reduce((a, b) => Math.max(a, b)));
    assert.equal(s.min, values.reduce((a, b) => Math.min(a, b)));
    assert.ok(Math.abs(s.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-6 * s.mean);
  });

  it('GIVEN an empty histogram THEN the summary says so with NaN, and reset empties a used one', () => {
    const h = createHistogram();
    assert.ok(Number.isNaN(h.percentile(50)));
    assert.ok(Number.isNaN(h.summary().max));
    h.record(500);
    h.record(700);
    assert.equal(h.count, 2);
    h.reset();
    assert.equal(h.count, 0);
    assert.ok(Number.isNaN(h.summary().p99));
    h.record(42);
    assert.equal(h.percentile(50), 42);
  });
});
