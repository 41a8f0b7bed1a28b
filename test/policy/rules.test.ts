import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { loadPolicyRulesFile } from '../../src/policy/rules-file.ts';
import { DEFAULT_AUTH_RULES, POLICY_RULES_SCHEMA } from '../../src/policy/rules-schema.ts';
import { policyRulesProblems, validatePolicyRules } from '../../src/policy/rules.ts';

const require = createRequire(import.meta.url);

/** The problems `validatePolicyRules` lists, or [] when the document is valid. */
function problems(doc: unknown, at = 'spec.policy'): string[] {
  try {
    validatePolicyRules(doc, at);
    return [];
  } catch (err) {
    assert.ok(isMailfleetError(err, 'POLICY_RULES_INVALID'), `unexpected error ${String(err)}`);
    return [...err.details];
  }
}

const window = { limit: 100, seconds: 60 };
const rule = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'per-client', key: 'client_address', count: 'recipients', windows: [window], ...extra });

test('GIVEN a rule with only the required fields WHEN validated THEN the defaults are filled in and it is frozen', () => {
  const rules = validatePolicyRules({ rules: [rule()] });
  assert.equal(rules.defaultAction, 'DUNNO');
  assert.deepEqual(rules.exempt, { networks: [], accounts: [] });
  assert.deepEqual(rules.rules[0], { name: 'per-client', key: 'client_address', count: 'recipients', windows: [window], exempt: { networks: [], accounts: [] }, action: 'DEFER_IF_PERMIT', text: 'rate limit exceeded' });
  assert.ok(Object.isFrozen(rules.rules[0]?.windows[0]));
});

test('GIVEN an empty document WHEN validated THEN it holds no Postfix rules, the default auth rules, and fails open with DUNNO', () => {
  const { auth, ...rest } = validatePolicyRules(undefined);
  assert.deepEqual(rest, { defaultAction: 'DUNNO', exempt: { networks: [], accounts: [] }, rules: [] });
  assert.deepEqual(auth.rules, DEFAULT_AUTH_RULES);
});

/** A bad field → the one problem that names it. */
const BAD: readonly { given: string; doc: unknown; expected: RegExp }[] = [
  { given: 'a negative limit', doc: { rules: [rule(), rule(), rule({ name: 'third', windows: [{ limit: -5, seconds: 60 }] })] }, expected: /^spec\.policy\.rules\[2\]\.windows\[0\]\.limit: expected a whole number from 1 to/ },
  { given: 'a fractional window', doc: { rules: [rule({ windows: [{ limit: 5, seconds: 1.5 }] })] }, expected: /^spec\.policy\.rules\[0\]\.windows\[0\]\.seconds: expected a whole number/ },
  { given: 'a window without seconds', doc: { rules: [rule({ windows: [{ limit: 5 }] })] }, expected: /^spec\.policy\.rules\[0\]\.windows\[0\]\.seconds: required field is missing$/ },
  { given: 'no windows', doc: { rules: [rule({ windows: [] })] }, expected: /^spec\.policy\.rules\[0\]\.windows: expected a list of 1 to 8 items/ },
  { given: 'an unknown key', doc: { rules: [rule({ key: 'helo_name' })] }, expected: /^spec\.policy\.rules\[0\]\.key: expected one of client_address, sasl_username/ },
  { given: 'an unknown count', doc: { rules: [rule({ count: 'mails' })] }, expected: /^spec\.policy\.rules\[0\]\.count: expected one of connections, messages/ },
  { given: 'an unknown field', doc: { rules: [rule({ limit: 5 })] }, expected: /^spec\.policy\.rules\[0\]\.limit: unknown field$/ },
  { given: 'a bad rule name', doc: { rules: [rule({ name: 'Per Client' })] }, expected: /^spec\.policy\.rules\[0\]\.name: expected a name/ },
  { given: 'a missing name', doc: { rules: [{ key: 'sender', count: 'messages', windows: [window] }] }, expected: /^spec\.policy\.rules\[0\]\.name: required field is missing$/ },
  { given: 'an action that is not one', doc: { rules: [rule({ action: 'OK' })] }, expected: /^spec\.policy\.rules\[0\]\.action: expected DEFER_IF_PERMIT/ },
  { given: 'a text with a line break', doc: { rules: [rule({ text: 'slow\ndown' })] }, expected: /^spec\.policy\.rules\[0\]\.text: expected 1 to 200 printable ASCII/ },
  { given: 'a permanent default action', doc: { defaultAction: 'REJECT' }, expected: /^spec\.policy\.defaultAction: expected DUNNO/ },
  { given: 'a malformed network', doc: { exempt: { networks: ['10.0.0.0/33'] } }, expected: /^spec\.policy\.exempt\.networks\[0\]: "10\.0\.0\.0\/33" expected a prefix length from 0 to 32$/ },
  { given: 'a network with host bits', doc: { rules: [rule({ exempt: { networks: ['192.0.2.1/24'] } })] }, expected: /^spec\.policy\.rules\[0\]\.exempt\.networks\[0\]: "192\.0\.2\.1\/24" has bits set past its \/24 \(the network is 192\.0\.2\.0\/24\)$/ },
  { given: 'an account with a space', doc: { exempt: { accounts: ['a b'] } }, expected: /^spec\.policy\.exempt\.accounts\[0\]: expected a SASL user name/ },
  { given: 'two rules of one name', doc: { rules: [rule(), rule()] }, expected: /^spec\.policy\.rules\[1\]\.name: per-client is also the name of spec\.policy\.rules\[0\]$/ },
  { given: 'a recipient key on a message count', doc: { rules: [rule({ key: 'recipient_domain', count: 'messages' })] }, expected: /^spec\.policy\.rules\[0\]\.key: counting messages, a rule can key on client_address, sasl_username, sender, sender_domain only/ },
  { given: 'a sender key on a connection count', doc: { rules: [rule({ key: 'sender', count: 'connections' })] }, expected: /^spec\.policy\.rules\[0\]\.key: counting connections, a rule can key on client_address only/ },
  { given: 'a prefix on a sender rule', doc: { rules: [rule({ key: 'sender', ipv4Prefix: 24 })] }, expected: /^spec\.policy\.rules\[0\]\.ipv4Prefix: only taken with key client_address$/ },
  { given: 'an IPv6 prefix past 128', doc: { rules: [rule({ ipv6Prefix: 129 })] }, expected: /^spec\.policy\.rules\[0\]\.ipv6Prefix: expected a whole number from 0 to 128/ },
  { given: 'two windows of one length', doc: { rules: [rule({ windows: [window, { limit: 5, seconds: 60 }] })] }, expected: /^spec\.policy\.rules\[0\]\.windows\[1\]\.seconds: 60 is also the length of windows\[0\]$/ },
  { given: 'a burst that takes months to use up', doc: { rules: [rule({ windows: [{ limit: 1, seconds: 86400, burst: 1000 }] })] }, expected: /^spec\.policy\.rules\[0\]\.windows\[0\]\.burst: 1000 at 1 per 86400 s takes longer than 31 days/ },
  { given: 'an empty context list', doc: { rules: [rule({ contexts: [] })] }, expected: /^spec\.policy\.rules\[0\]\.contexts: expected a list of 1 to 16 items/ },
  { given: 'a context with a space', doc: { rules: [rule({ contexts: ['mta', 'in bound'] })] }, expected: /^spec\.policy\.rules\[0\]\.contexts\[1\]: expected a policy_context/ },
  { given: 'a context listed twice', doc: { rules: [rule({ contexts: ['mta', 'msa', 'mta'] })] }, expected: /^spec\.policy\.rules\[0\]\.contexts\[2\]: mta is listed twice$/ },
  { given: 'rules that are not a list', doc: { rules: { a: 1 } }, expected: /^spec\.policy\.rules: expected a list of 0 to 100 items/ },
  { given: 'a document that is not an object', doc: 'rules', expected: /^spec\.policy: expected object/ },
];

for (const { given, doc, expected } of BAD) {
  test(`GIVEN ${given} WHEN validated THEN the problem names the field`, () => {
    const found = problems(doc);
    assert.equal(found.length, 1, `problems: ${found.join(' | ')}`);
    assert.match(found[0] ?? '', expected);
  });
}

test('GIVEN a rules file (no field prefix) WHEN a field is bad THEN the path starts at the document', () => {
  assert.match(problems({ rules: [rule({ windows: [{ limit: 0, seconds: 60 }] })] }, '')[0] ?? '', /^rules\[0\]\.windows\[0\]\.limit: /);
});

test('GIVEN every valid combination of key and count WHEN validated THEN none is refused', () => {
  const combos = [
    ['client_address', 'connections'], ['client_address', 'messages'], ['sasl_username', 'bytes'], ['sender_domain', 'messages'],
    ['recipient', 'recipients'], ['recipient_domain', 'recipients'], ['sender', 'recipients'],
  ];
  const doc = { rules: combos.map(([key, count], i) => ({ name: `r${i}`, key, count, windows: [window] })) };
  assert.deepEqual(problems(doc), []);
});

test('GIVEN a valid document WHEN its semantic checks run alone (as the spec would after ajv) THEN they find nothing', () => {
  assert.deepEqual(policyRulesProblems(validatePolicyRules({ rules: [rule()] }), 'spec.policy'), []);
});

/** The JSON-schema fragment agrees with the hand validator on shape: what one refuses, the other does. */
test('GIVEN the documents above WHEN checked by ajv against POLICY_RULES_SCHEMA THEN the verdicts and defaults agree', () => {
  const { Ajv } = require('ajv') as typeof import('ajv');
  const ajv = new Ajv({ useDefaults: 'empty', allErrors: true, strict: true, allowUnionTypes: true });
  // Embedded as the spec will embed it: a default is ignored at a schema's root.
  const validate = ajv.compile({ type: 'object', additionalProperties: false, properties: { policy: POLICY_RULES_SCHEMA } });
  const check = (doc: unknown): boolean => validate({ policy: doc });
  const semantic = /also the|counting|only taken|bits set|prefix length|takes longer|listed twice/;
  for (const { given, doc } of BAD) {
    const mine = problems(doc);
    const shapeOnly = mine.every((p) => !semantic.test(p));
    if (shapeOnly) assert.equal(check(structuredClone(doc)), false, `ajv accepted: ${given}`);
  }
  const good = { rules: [rule({ contexts: ['mta'], exempt: { networks: ['2001:db8::/32'], accounts: ['jörg@example.org'] } })] };
  const filled = { policy: structuredClone(good) };
  assert.equal(validate(filled), true, JSON.stringify(validate.errors));
  assert.deepEqual(filled.policy, validatePolicyRules(good));
});

test('GIVEN the example rules file WHEN loaded THEN it is valid', () => {
  const rules = loadPolicyRulesFile(fileURLToPath(new URL('../../examples/policy-rules.yaml', import.meta.url)));
  assert.deepEqual(rules.rules.map((r) => r.name), ['rcpt-per-network', 'rcpt-per-domain', 'msg-per-account', 'bytes-per-account']);
  assert.deepEqual(rules.auth.rules.map((r) => `${r.name}:${r.action}`), ['auth-address:reject', 'auth-network-tarpit:tarpit', 'auth-account:reject']);
});

test('GIVEN a rules file that is not YAML WHEN loaded THEN POLICY_RULES_INVALID names the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, 'rules: [unclosed\n');
  assert.throws(() => loadPolicyRulesFile(file), (err: unknown) => isMailfleetError(err, 'POLICY_RULES_INVALID') && err.message.startsWith(file));
});
