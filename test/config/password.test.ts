import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ssha, ssha512 } from '../../src/config/index.ts';

test('GIVEN a password and salt WHEN hashed as SSHA512 THEN the value is base64(sha512(password+salt)+salt)', () => {
  const salt = Buffer.from('0123456789abcdef', 'hex');
  const value = ssha512('secret', salt);
  assert.ok(value.startsWith('{SSHA512}'));
  const raw = Buffer.from(value.slice(9), 'base64');
  assert.deepEqual(raw.subarray(64), salt);
  assert.deepEqual(raw.subarray(0, 64), createHash('sha512').update('secret').update(salt).digest());
});

test('GIVEN two hashes of one password WHEN salts are random THEN they differ', () => {
  assert.notEqual(ssha('secret'), ssha('secret'));
});
