import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrMatcher } from '../../src/agent/proxy-gate.ts';

test('GIVEN balancer ranges WHEN peers are matched THEN only addresses inside them are trusted, IPv4-mapped IPv6 as IPv4', () => {
  const trusted = cidrMatcher(['192.0.2.0/28', '2001:db8:f5::/64']);
  assert.equal(trusted('192.0.2.1'), true);
  assert.equal(trusted('192.0.2.15'), true);
  assert.equal(trusted('192.0.2.16'), false);
  assert.equal(trusted('::ffff:192.0.2.3'), true);
  assert.equal(trusted('::ffff:198.51.100.1'), false);
  assert.equal(trusted('2001:db8:f5::1'), true);
  assert.equal(trusted('2001:db8:f6::1'), false);
  assert.equal(trusted('0.0.0.0'), false);
  assert.equal(trusted(''), false);
  assert.equal(trusted('not an address'), false);
});

test('GIVEN no ranges WHEN any peer is matched THEN none is trusted', () => {
  const trusted = cidrMatcher([]);
  assert.equal(trusted('127.0.0.1'), false);
  assert.equal(trusted('::1'), false);
});
