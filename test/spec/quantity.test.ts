import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantityValue } from '../../src/spec/index.ts';

test('GIVEN Kubernetes quantities WHEN read THEN binary suffixes are powers of 1024 and decimal ones of 1000', () => {
  const cases: [string, number][] = [['1Gi', 1024 ** 3], ['512Mi', 512 * 1024 ** 2], ['1.5G', 1.5e9], ['64000k', 64e6], ['100m', 0.1], ['2', 2], ['3Ti', 3 * 1024 ** 4]];
  for (const [q, v] of cases) assert.equal(quantityValue(q), v, q);
  assert.throws(() => quantityValue('1GB'), RangeError);
});
