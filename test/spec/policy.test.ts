import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { validatePolicyRules } from '../../src/policy/index.ts';
import { authPolicyRuns, DEFAULT_POLICY_RULES, parseSpec, policyCounts, policyRuns } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
`;

function problems(text: string): string[] {
  try {
    parseSpec(text, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

const rule = (name: string, extra = ''): string => `      - { name: ${name}, key: client_address, count: recipients, windows: [{ limit: 10, seconds: 60 }]${extra} }\n`;

test('GIVEN a spec without policy WHEN parsed THEN the policy server runs with 2 replicas, 100 ms deadline, DUNNO and the default ISP rules', () => {
  const { spec } = parseSpec(MINIMAL);
  assert.equal(spec.policy.enabled, true);
  assert.equal(spec.policy.replicas, 2);
  assert.equal(spec.policy.deadlineMs, 100);
  assert.equal(spec.policy.defaultAction, 'DUNNO');
  assert.equal(spec.ports.policy, 10040);
  assert.deepEqual(spec.policy.rules, DEFAULT_POLICY_RULES);
  assert.deepEqual(spec.policy.rules.map((r) => [r.name, r.contexts, r.key, r.count]), [
    ['mx-recipients-per-network', ['mta'], 'client_address', 'recipients'],
    ['submission-messages-per-account', ['msa'], 'sasl_username', 'messages'],
  ]);
  assert.ok(Object.isFrozen(spec.policy.rules[0]?.windows));
});

test('GIVEN the default rules WHEN validated as a rules file THEN the policy server takes them unchanged', () => {
  const { spec } = parseSpec(MINIMAL);
  const doc = { defaultAction: spec.policy.defaultAction, exempt: spec.policy.exempt, rules: spec.policy.rules, auth: { exempt: spec.policy.auth.exempt, rules: spec.policy.auth.rules } };
  assert.deepEqual(validatePolicyRules(structuredClone(doc), 'spec.policy'), doc);
});

test('GIVEN rules of its own WHEN parsed THEN they replace the defaults, with the rule defaults filled in', () => {
  const { spec } = parseSpec(`${MINIMAL}  policy:\n    rules:\n${rule('per-client')}`);
  assert.deepEqual(spec.policy.rules, [{
    name: 'per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 10, seconds: 60 }],
    exempt: { networks: [], accounts: [] }, action: 'DEFER_IF_PERMIT', text: 'rate limit exceeded',
  }]);
  assert.deepEqual(parseSpec(`${MINIMAL}  policy: { rules: [] }\n`).spec.policy.rules, [], 'an empty list means no rules');
});

test('GIVEN a bad rule WHEN parsed THEN the spec error names the rule field', () => {
  const text = `${MINIMAL}  policy:\n    rules:\n${rule('a')}${rule('b')}      - { name: c, key: sender, count: messages, windows: [{ limit: -5, seconds: 60 }] }\n`;
  assert.deepEqual(problems(text), ['spec.policy.rules[2].windows[0].limit: must be >= 1']);
});

test('GIVEN rules a schema cannot judge WHEN parsed THEN the rules checks name the field', () => {
  const text = `${MINIMAL}  policy:\n    rules:\n${rule('a')}${rule('a', ', contexts: [lmtp]')}      - { name: c, key: sender, count: connections, windows: [{ limit: 5, seconds: 60 }] }\n`;
  assert.deepEqual(problems(text), [
    'spec.policy.rules[1].name: a is also the name of spec.policy.rules[0]',
    'spec.policy.rules[2].key: counting connections, a rule can key on client_address only (the stage it counts at has no sender)',
    "spec.policy.rules[1].contexts: the platform's checks send mta or msa; a rule for neither never counts",
  ]);
});

test('GIVEN a policy role and no kvs WHEN parsed THEN the kvs replicas are named; without the policy it passes', () => {
  // The filter (as) needs kvs too; off here, so only the policy server's need is named.
  assert.deepEqual(problems(`${MINIMAL}  roles: { kvs: { replicas: 0 }, as: { replicas: 0 } }\n`), [
    'spec.roles.kvs.replicas: expected 1 while the policy server runs (its counts live in Redis); or set spec.policy.enabled: false',
  ]);
  assert.deepEqual(problems(`${MINIMAL}  roles: { kvs: { replicas: 0 }, as: { replicas: 0 } }\n  policy: { enabled: false }\n`), []);
  assert.deepEqual(problems(`${MINIMAL}  roles: { kvs: { replicas: 0 }, as: { replicas: 0 } }\n  policy: { replicas: 0 }\n`), []);
});

test('GIVEN a bad setting WHEN parsed THEN it is named', () => {
  assert.deepEqual(problems(`${MINIMAL}  policy: { deadlineMs: 2, defaultAction: REJECT, colour: red }\n`).sort(), [
    'spec.policy.colour: unknown field',
    'spec.policy.deadlineMs: must be >= 5',
    'spec.policy.defaultAction: expected a value matching ^(DUNNO|(DEFER_IF_PERMIT|DEFER|4[0-9][0-9])( [ -~]{1,200})?)$',
  ]);
});

test('GIVEN which roles run and which rules exist WHEN asked THEN the policy runs, and each role counts only its rules', () => {
  const { spec } = parseSpec(MINIMAL);
  assert.equal(policyRuns(spec), true);
  assert.deepEqual([...policyCounts(spec, 'mta')], ['recipients']);
  assert.deepEqual([...policyCounts(spec, 'msa')], ['messages']);
  const open = parseSpec(`${MINIMAL}  policy:\n    rules:\n${rule('a')}      - { name: b, key: sasl_username, count: bytes, windows: [{ limit: 5, seconds: 60 }], contexts: [msa] }\n`).spec;
  assert.deepEqual([...policyCounts(open, 'mta')], ['recipients'], 'a rule without contexts counts for both');
  assert.deepEqual([...policyCounts(open, 'msa')].sort(), ['bytes', 'recipients']);
  for (const off of ['policy: { enabled: false }', 'policy: { replicas: 0 }', 'roles: { mta: { replicas: 0 }, msa: { replicas: 0 } }\n  policy: { auth: { enabled: false } }']) {
    const s = parseSpec(`${MINIMAL}  ${off}\n`).spec;
    assert.equal(policyRuns(s), false, off);
    assert.deepEqual([...policyCounts(s, 'mta')], [], off);
  }
});

test('GIVEN proxies and no Postfix role WHEN asked THEN the policy server still runs, for the logins, and counts no Postfix stage', () => {
  const { spec } = parseSpec(`${MINIMAL}  roles: { mta: { replicas: 0 }, msa: { replicas: 0 } }\n`);
  assert.equal(authPolicyRuns(spec), true);
  assert.equal(policyRuns(spec), true);
  assert.deepEqual([...policyCounts(spec, 'mta')], []);
  assert.equal(authPolicyRuns(parseSpec(`${MINIMAL}  roles: { proxy: { replicas: 0 }, mta: { replicas: 0 }, msa: { replicas: 0 } }\n`).spec), false, 'no proxy asks');
});

test('GIVEN a spec without spec.policy.auth WHEN parsed THEN login protection is on with the default rules; bad auth rules are named by field', () => {
  const { spec } = parseSpec(MINIMAL);
  assert.equal(spec.policy.auth.enabled, true);
  assert.deepEqual(spec.policy.auth.rules.map((r) => [r.name, r.key, r.action]), [['auth-address', 'remote', 'reject'], ['auth-network', 'remote', 'reject'], ['auth-account', 'login', 'reject']]);
  assert.equal(spec.policy.auth.apiKey, undefined, 'no default credential: generated');
  assert.deepEqual(problems(`${MINIMAL}  policy: { auth: { rules: [{ name: x, key: login, windows: [{ limit: 3, seconds: 60 }], ipv4Prefix: 24, action: ban }], apiKey: short } }\n`).sort(), [
    'spec.policy.auth.apiKey: must NOT have fewer than 16 characters',
    'spec.policy.auth.rules[0].action: must be equal to one of the allowed values',
  ]);
  assert.deepEqual(problems(`${MINIMAL}  policy: { auth: { rules: [{ name: x, key: login, windows: [{ limit: 3, seconds: 60 }], ipv4Prefix: 24 }] } }\n`), [
    'spec.policy.auth.rules[0].ipv4Prefix: only taken with key remote',
  ]);
});
