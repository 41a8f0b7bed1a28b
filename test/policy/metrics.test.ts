import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthPolicyMetrics } from '../../src/policy/auth-metrics.ts';
import { createPolicyMetrics } from '../../src/policy/metrics.ts';
import { CONTRACT_METRICS } from '../support/metrics-contract.ts';

test('GIVEN the policy server\'s registry WHEN listed THEN its metric names are exactly the contract\'s policy names', async () => {
  const metrics = createPolicyMetrics();
  createAuthPolicyMetrics(metrics.registry);
  const registered = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).sort();
  const contract = [...CONTRACT_METRICS].filter((n) => n.startsWith('mailfleet_policy_')).sort();
  assert.deepEqual(registered, contract);
});

test('GIVEN a fresh registry WHEN exported THEN every fail-open reason is there at 0, so rates and alerts see the counter before the first failure', async () => {
  const text = await createPolicyMetrics().registry.metrics();
  for (const reason of ['redis_down', 'timeout', 'overload', 'error']) assert.match(text, new RegExp(`^mailfleet_policy_fail_open_total\\{reason="${reason}"\\} 0$`, 'm'));
});

test('GIVEN a fresh registry WHEN exported THEN every reason for shedding a connection is there at 0, and shedding counts by reason', async () => {
  const metrics = createPolicyMetrics();
  const before = await metrics.registry.metrics();
  for (const reason of ['idle_at_cap', 'refused_at_cap', 'held_budget']) assert.match(before, new RegExp(`^mailfleet_policy_connections_shed_total\\{reason="${reason}"\\} 0$`, 'm'));
  metrics.shed('held_budget', 7);
  metrics.shed('idle_at_cap');
  const after = await metrics.registry.metrics();
  assert.match(after, /^mailfleet_policy_connections_shed_total\{reason="held_budget"\} 7$/m);
  assert.match(after, /^mailfleet_policy_connections_shed_total\{reason="idle_at_cap"\} 1$/m);
});

test('GIVEN a fresh registry WHEN exported THEN the auth policy\'s fail-open and refusal reasons and its verdict-free series are there at 0', async () => {
  const metrics = createPolicyMetrics();
  const auth = createAuthPolicyMetrics(metrics.registry);
  const text = await metrics.registry.metrics();
  for (const reason of ['redis_down', 'timeout', 'overload', 'error']) assert.match(text, new RegExp(`^mailfleet_policy_auth_fail_open_total\\{reason="${reason}"\\} 0$`, 'm'));
  for (const reason of ['unauthorized', 'malformed', 'too_large']) assert.match(text, new RegExp(`^mailfleet_policy_auth_refused_requests_total\\{reason="${reason}"\\} 0$`, 'm'));
  assert.match(text, /^mailfleet_policy_auth_requests_total\{command="allow",verdict="allow",rule=""\} 0$/m);
  auth.counted('auth-address');
  assert.match(await metrics.registry.metrics(), /^mailfleet_policy_auth_failures_counted_total\{rule="auth-address"\} 1$/m);
});
