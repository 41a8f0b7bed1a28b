import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTH_POLICY_MAX_BODY_BYTES, authPolicyCommand, formatAuthPolicyReply, parseAuthPolicyRequest, type AuthPolicyCommand } from '../../src/protocol/index.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
/** What Dovecot 2.3 sends with its default request attributes (a report adds success and policy_reject). */
const DOVECOT_ALLOW = '{"device_id":"","login":"user1@example.org","protocol":"imap","pwhash":"a1f","remote":"192.0.2.7","session_id":"Hk3k2Qf1+sB/AAAB"}';
const DOVECOT_REPORT = '{"device_id":"","login":"user1@example.org","protocol":"imap","pwhash":"a1f","remote":"192.0.2.7","session_id":"x","tls":"","success":false,"policy_reject":false}';

function code(command: AuthPolicyCommand, body: Uint8Array | string): string | undefined {
  const result = parseAuthPolicyRequest(command, typeof body === 'string' ? bytes(body) : body);
  return result.ok ? undefined : result.error.code;
}

test('GIVEN an allow request as Dovecot sends it WHEN parsed THEN login, remote, pwhash and protocol are taken, the rest ignored', () => {
  const result = parseAuthPolicyRequest('allow', bytes(DOVECOT_ALLOW));
  assert.ok(result.ok);
  assert.deepEqual(result.value, { command: 'allow', login: 'user1@example.org', remote: '192.0.2.7', pwhash: 'a1f', protocol: 'imap' });
});

test('GIVEN a report WHEN parsed THEN success and policy_reject are read as booleans', () => {
  const result = parseAuthPolicyRequest('report', bytes(DOVECOT_REPORT));
  assert.ok(result.ok);
  assert.equal(result.value.success, false);
  assert.equal(result.value.policyReject, false);
});

test('GIVEN a request with nested attributes (attrs/cos=...) WHEN parsed THEN the nesting is ignored', () => {
  const result = parseAuthPolicyRequest('allow', bytes('{"login":"u","remote":"192.0.2.1","attrs":{"cos":"premium"}}'));
  assert.ok(result.ok);
  assert.equal(result.value.pwhash, '');
});

test('GIVEN fields missing WHEN parsed THEN they read as empty', () => {
  const result = parseAuthPolicyRequest('allow', bytes('{}'));
  assert.ok(result.ok);
  assert.deepEqual(result.value, { command: 'allow', login: '', remote: '', pwhash: '', protocol: '' });
});

test('GIVEN hostile or broken bodies WHEN parsed THEN each is malformed, none throws', () => {
  const cases: [string, AuthPolicyCommand, Uint8Array | string][] = [
    ['empty', 'allow', ''],
    ['not JSON', 'allow', 'login=user'],
    ['truncated', 'allow', '{"login":"u'],
    ['array', 'allow', '[1,2]'],
    ['string', 'allow', '"x"'],
    ['null', 'allow', 'null'],
    ['number login', 'allow', '{"login":5}'],
    ['object remote', 'allow', '{"remote":{"a":1}}'],
    ['array pwhash', 'allow', '{"pwhash":["a"]}'],
    ['string success', 'report', '{"success":"false"}'],
    ['number policy_reject', 'report', '{"success":false,"policy_reject":0}'],
    ['report without success', 'report', '{"login":"u"}'],
    ['over-long login', 'allow', JSON.stringify({ login: 'a'.repeat(2000) })],
    ['deep nesting', 'allow', `${'{"a":'.repeat(50)}1${'}'.repeat(50)}`],
    ['invalid UTF-8', 'allow', new Uint8Array([0x7b, 0x22, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['binary noise', 'allow', new Uint8Array([0, 1, 2, 3, 0xc3, 0x28, 10, 13])],
  ];
  for (const [name, command, body] of cases) assert.equal(code(command, body), 'PROTOCOL_MALFORMED_REQUEST', name);
});

test('GIVEN a body past the cap WHEN parsed THEN it is too large', () => {
  assert.equal(code('allow', bytes(`{"login":"${'a'.repeat(AUTH_POLICY_MAX_BODY_BYTES)}"}`)), 'PROTOCOL_REQUEST_TOO_LARGE');
});

test('GIVEN a JSON prototype key WHEN parsed THEN it changes nothing', () => {
  const result = parseAuthPolicyRequest('allow', bytes('{"__proto__":{"login":"evil"},"remote":"192.0.2.1"}'));
  assert.ok(result.ok);
  assert.equal(result.value.login, '');
  assert.equal(({} as Record<string, unknown>).login, undefined);
});

test('GIVEN request targets WHEN the command is read THEN only allow and report are known', () => {
  assert.equal(authPolicyCommand('/?command=allow'), 'allow');
  assert.equal(authPolicyCommand('/?x=1&command=report'), 'report');
  assert.equal(authPolicyCommand('/?command=delete'), undefined);
  assert.equal(authPolicyCommand('/'), undefined);
});

test('GIVEN a verdict WHEN formatted THEN it is the JSON Dovecot reads', () => {
  assert.equal(formatAuthPolicyReply(-1, 'go away'), '{"status":-1,"msg":"go away"}');
  assert.equal(formatAuthPolicyReply(0, ''), '{"status":0,"msg":""}');
});
