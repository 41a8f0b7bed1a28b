import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgressCounter } from '../../src/cli/progress.ts';

test('GIVEN mailfleet up\'s progress WHEN instances start, scale, restart and stop THEN [ready/instances] is what runs now, never past its total', () => {
  const counter = createProgressCounter(3);
  const steps: [string, string, string][] = [
    // Coming up: out of the 3 the platform will have.
    ['ldap-0', 'starting', '[0/3]'],
    ['ldap-0', 'ready', '[1/3]'],
    ['kvs-0', 'starting', '[1/3]'],
    ['kvs-0', 'crashed', '[1/3]'],
    ['kvs-0', 'restarting', '[1/3]'],
    ['kvs-0', 'ready', '[2/3]'],
    ['mta-0', 'starting', '[2/3]'],
    ['mta-0', 'ready', '[3/3]'],
  ];
  for (const [name, phase, expected] of steps) assert.equal(counter.update(name, phase), expected, `${name} ${phase}`);
  counter.started();
  const later: [string, string, string][] = [
    // scale: a fourth instance.
    ['mta-1', 'starting', '[3/4]'],
    ['mta-1', 'ready', '[4/4]'],
    // restart: out and back.
    ['mta-0', 'stopping', '[3/4]'],
    ['mta-0', 'stopped', '[3/3]'],
    ['mta-0', 'starting', '[3/4]'],
    ['mta-0', 'ready', '[4/4]'],
    // shutdown counts down.
    ['mta-1', 'stopping', '[3/4]'],
    ['mta-1', 'stopped', '[3/3]'],
    ['mta-0', 'stopping', '[2/3]'],
    ['mta-0', 'stopped', '[2/2]'],
  ];
  for (const [name, phase, expected] of later) assert.equal(counter.update(name, phase), expected, `${name} ${phase}`);
});

test('GIVEN a platform of 12 instances WHEN counted THEN the ready count is padded to the total\'s width', () => {
  assert.equal(createProgressCounter(12).update('ldap-0', 'ready'), '[ 1/12]');
});
