import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTH_ALLOW, authMode, authScriptCall, authVerdict, compileAuthPolicy, planAuth } from '../../src/policy/auth-evaluate.ts';
import { validatePolicyRules } from '../../src/policy/rules.ts';
import type { AuthPolicyRequest } from '../../src/protocol/index.ts';

const W = [{ limit: 10, seconds: 300 }];
const POLICY = compileAuthPolicy(validatePolicyRules({
  auth: {
    exempt: { networks: ['10.0.0.0/8'], accounts: ['probe@example.org'] },
    rules: [
      { name: 'addr', key: 'remote', windows: W },
      { name: 'net', key: 'remote', ipv4Prefix: 24, ipv6Prefix: 48, windows: W, action: 'tarpit', tarpitSeconds: 7 },
      { name: 'acct', key: 'login', windows: [{ limit: 20, seconds: 3600 }, { limit: 50, seconds: 86_400 }] },
      { name: 'acct-all', key: 'login', distinctPasswords: false, knownSeconds: 0, windows: W, action: 'tarpit', exempt: { networks: ['192.0.2.128/25'] } },
    ],
  },
}).auth);

const request = (extra: Partial<AuthPolicyRequest>): AuthPolicyRequest => ({ command: 'allow', login: 'User@Example.org', remote: '192.0.2.7', pwhash: 'abc', protocol: 'imap', ...extra });
const keys = (r: AuthPolicyRequest, mode = authMode(r)): string[] => (mode === undefined ? [] : planAuth(POLICY, r, mode).map((b) => b.key));

test('GIVEN an allow request WHEN planned THEN every rule is checked, addresses per prefix, logins lower-cased', () => {
  assert.deepEqual(keys(request({})), ['auth:addr:192.0.2.7/32', 'auth:net:192.0.2.0/24', 'auth:acct:user@example.org', 'auth:acct-all:user@example.org']);
  assert.deepEqual(keys(request({ remote: '2001:db8:1:2:3::9' })).slice(0, 2), ['auth:addr:2001:db8:1:2:0:0:0:0/64', 'auth:net:2001:db8:1:0:0:0:0:0/48']);
});

test('GIVEN requests WHEN their mode is read THEN allow checks, a failure counts, a success remembers, the policy\'s own refusal does nothing', () => {
  assert.equal(authMode(request({})), 'check');
  assert.equal(authMode(request({ command: 'report', success: false, policyReject: false })), 'fail');
  assert.equal(authMode(request({ command: 'report', success: true })), 'success');
  assert.equal(authMode(request({ command: 'report', success: false, policyReject: true })), undefined);
});

test('GIVEN exempt clients WHEN planned THEN the section\'s and a rule\'s exemptions leave them alone', () => {
  assert.deepEqual(keys(request({ remote: '10.1.2.3' })), []);
  assert.deepEqual(keys(request({ login: 'PROBE@example.org' })), []);
  assert.deepEqual(keys(request({ remote: '192.0.2.200' })), ['auth:addr:192.0.2.200/32', 'auth:net:192.0.2.0/24', 'auth:acct:user@example.org']);
});

test('GIVEN a request without an address or a login WHEN planned THEN only the rules that have their key count', () => {
  assert.deepEqual(keys(request({ remote: '' })), ['auth:acct:user@example.org', 'auth:acct-all:user@example.org']);
  assert.deepEqual(keys(request({ remote: 'unknown', login: '' })), []);
});

test('GIVEN a success WHEN planned THEN only login rules that keep known networks take part', () => {
  assert.deepEqual(keys(request({ command: 'report', success: true })), ['auth:acct:user@example.org']);
});

test('GIVEN a failure WHEN its script call is made THEN a distinct-passwords rule passes the hash and the others none', () => {
  const buckets = planAuth(POLICY, request({ command: 'report', success: false }), 'fail');
  const { keys: k, args } = authScriptCall('p:', 'fail', buckets);
  assert.equal(k.length, 12);
  assert.deepEqual(k.slice(6, 9), ['p:auth:acct:user@example.org', 'p:auth:acct:user@example.org:pw', 'p:auth:acct:user@example.org:known']);
  assert.equal(args[0], 'fail');
  // addr: n=1, 3 window fields, then password '', known '', ttl.
  assert.deepEqual(args.slice(1, 8), ['1', '300:10:10', '30000000', '300000000', '', '', '301000']);
  // acct: two windows, then the password's hash.
  assert.deepEqual(args.slice(15, 25), ['2', '3600:20:20', '180000000', '3600000000', '86400:50:50', '1728000000', '86400000000', 'abc', '', '86401000']);
});

test('GIVEN full buckets WHEN the verdict is made THEN a rejecting rule wins over a tarpit, and a tarpit delays by its seconds', () => {
  const buckets = planAuth(POLICY, request({}), 'check');
  assert.deepEqual(authVerdict(buckets, []), AUTH_ALLOW);
  assert.deepEqual(authVerdict(buckets, [1]), { status: 7, msg: '', verdict: 'tarpit', rule: 'net' });
  assert.deepEqual(authVerdict(buckets, [3, 1, 2]), { status: -1, msg: 'too many failed logins, try again later', verdict: 'reject', rule: 'acct' });
});
