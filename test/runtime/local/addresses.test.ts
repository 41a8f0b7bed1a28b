import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isMailfleetError } from '../../../src/errors.ts';
import { createAddressPool } from '../../../src/runtime/local/addresses.ts';

test('GIVEN a pool WHEN addresses are allocated THEN each is new, skips .0 and survives a restart of the pool', (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'addresses.json');
  const pool = createAddressPool('127.77.0.0/16', file);
  assert.deepEqual([pool.allocate(), pool.allocate()], ['127.77.0.1', '127.77.0.2']);
  pool.release('127.77.0.1');
  assert.equal(createAddressPool('127.77.0.0/16', file).allocate(), '127.77.0.3');
});

test('GIVEN a pool that is not a loopback /16 WHEN created THEN it is refused', () => {
  assert.throws(() => createAddressPool('10.0.0.0/16', '/nonexistent'), (err: unknown) => isMailfleetError(err, 'SPEC_INVALID'));
});
