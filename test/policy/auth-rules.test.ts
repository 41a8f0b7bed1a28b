import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { DEFAULT_AUTH_RULES, POLICY_RULES_SCHEMA } from '../../src/policy/rules-schema.ts';
import { validatePolicyRules } from '../../src/policy/rules.ts';

const require = createRequire(import.meta.url);

function problems(doc: unknown): string[] {
  try {
    validatePolicyRules(doc, 'spec.policy');
    return [];
  } catch (err) {
    assert.ok(isMailfleetError(err, 'POLICY_RULES_INVALID'), `unexpected error ${String(err)}`);
    return [...err.details];
  }
}

const auth = (rule: Record<string, unknown>): unknown => ({ auth: { rules: [{ name: 'r', key: 'remote', windows: [{ limit: 5, seconds: 60 }], ...rule }] } });

test('GIVEN a document without auth WHEN validated THEN the default auth rules are in force', () => {
  const rules = validatePolicyRules({});
  assert.deepEqual(rules.auth.rules, DEFAULT_AUTH_RULES);
  assert.deepEqual(rules.auth.exempt, { networks: [], accounts: [] });
});

test('GIVEN the default auth rules WHEN looked at THEN addresses are refused after 10 failures in 5 minutes and accounts count distinct passwords', () => {
  const address = DEFAULT_AUTH_RULES.find((r) => r.name === 'auth-address');
  assert.deepEqual(address?.windows[0], { limit: 10, seconds: 300 });
  assert.equal(address?.action, 'reject');
  const account = DEFAULT_AUTH_RULES.find((r) => r.key === 'login');
  assert.equal(account?.distinctPasswords, true);
});

test('GIVEN an empty auth rules list WHEN validated THEN none is in force', () => {
  assert.deepEqual(validatePolicyRules({ auth: { rules: [] } }).auth.rules, []);
});

test('GIVEN a tarpit rule WHEN validated THEN it keeps its seconds and the default text', () => {
  const rule = validatePolicyRules(auth({ action: 'tarpit', tarpitSeconds: 5 })).auth.rules[0];
  assert.equal(rule?.tarpitSeconds, 5);
  assert.equal(rule?.text, 'too many failed logins, try again later');
});

test('GIVEN bad auth rules WHEN validated THEN each problem names its field', () => {
  const cases: [unknown, string][] = [
    [auth({ key: 'client_address' }), 'spec.policy.auth.rules[0].key: expected one of remote, login'],
    [auth({ action: 'defer' }), 'spec.policy.auth.rules[0].action: expected one of reject, tarpit'],
    [auth({ windows: [] }), 'spec.policy.auth.rules[0].windows: expected a list of 1 to 8 items'],
    [auth({ windows: [{ limit: 0, seconds: 60 }] }), 'spec.policy.auth.rules[0].windows[0].limit: expected a whole number'],
    [auth({ tarpitSeconds: 500, action: 'tarpit' }), 'spec.policy.auth.rules[0].tarpitSeconds: expected a whole number from 1 to 60'],
    [auth({ tarpitSeconds: 5 }), 'spec.policy.auth.rules[0].tarpitSeconds: only taken with action tarpit'],
    [auth({ distinctPasswords: true }), 'spec.policy.auth.rules[0].distinctPasswords: only taken with key login'],
    [auth({ distinctPasswords: 'yes', key: 'login' }), 'spec.policy.auth.rules[0].distinctPasswords: expected one of true, false'],
    [auth({ key: 'login', ipv4Prefix: 24 }), 'spec.policy.auth.rules[0].ipv4Prefix: only taken with key remote'],
    [auth({ exempt: { networks: ['192.0.2.1/24'] } }), 'spec.policy.auth.rules[0].exempt.networks[0]: "192.0.2.1/24" has bits set past its /24'],
    [auth({ colour: 'red' }), 'spec.policy.auth.rules[0].colour: unknown field'],
    [{ auth: { rules: [{ name: 'a', key: 'remote', windows: [{ limit: 1, seconds: 1 }] }, { name: 'a', key: 'login', windows: [{ limit: 1, seconds: 1 }] }] } }, 'spec.policy.auth.rules[1].name: a is also the name of spec.policy.auth.rules[0]'],
    [{ auth: { enabled: 'x' } }, 'spec.policy.auth.enabled: unknown field'],
    [{ auth: [] }, 'spec.policy.auth: expected object'],
  ];
  for (const [doc, expected] of cases) {
    const found = problems(doc);
    assert.ok(found.some((p) => p.startsWith(expected)), `${expected}\n got: ${found.join('\n')}`);
  }
});

test('GIVEN the JSON schema and the hand-written validation WHEN both read the same auth section THEN they fill the same defaults', () => {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ useDefaults: 'empty', allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile({ type: 'object', additionalProperties: false, properties: { policy: POLICY_RULES_SCHEMA } });
  for (const doc of [{}, { auth: {} }, { auth: { rules: [{ name: 'x', key: 'login', windows: [{ limit: 3, seconds: 60 }] }] } }]) {
    const copy: { policy: { auth?: unknown } } = { policy: structuredClone(doc) };
    assert.ok(validate(copy), JSON.stringify(validate.errors));
    assert.deepEqual(JSON.parse(JSON.stringify(validatePolicyRules(doc).auth)), copy.policy.auth);
  }
});
