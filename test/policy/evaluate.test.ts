import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compilePolicy, decide, PASS, planRequest, scriptCall, type CompiledPolicy } from '../../src/policy/evaluate.ts';
import { validatePolicyRules } from '../../src/policy/rules.ts';

function policy(doc: unknown): CompiledPolicy {
  return compilePolicy(validatePolicyRules(doc));
}

const W = [{ limit: 10, seconds: 60 }];
const RULES = policy({
  exempt: { networks: ['10.0.0.0/8'], accounts: ['relay@example.org'] },
  rules: [
    { name: 'conn', key: 'client_address', count: 'connections', windows: W, ipv4Prefix: 24, ipv6Prefix: 48 },
    { name: 'rcpt-client', key: 'client_address', count: 'recipients', windows: W, exempt: { networks: ['2001:db8:ffff::/48'] } },
    { name: 'rcpt-domain', key: 'recipient_domain', count: 'recipients', windows: W, action: 'WARN', text: 'many recipients at one domain' },
    { name: 'msg-user', key: 'sasl_username', count: 'messages', windows: W, action: '450', exempt: { accounts: ['Bulk@Example.org'] } },
    { name: 'msg-sender-domain', key: 'sender_domain', count: 'messages', windows: W, action: 'REJECT' },
    { name: 'bytes-user', key: 'sasl_username', count: 'bytes', windows: [{ limit: 1_000_000, seconds: 3600, burst: 200_000 }], text: '4.7.0 too many bytes' },
  ],
});

const keys = (attributes: Record<string, string>): string[] => planRequest(RULES, attributes).map((b) => `${b.key}*${b.cost}`);

test('GIVEN a CONNECT request WHEN planned THEN only the connection rule counts, per /24', () => {
  assert.deepEqual(keys({ protocol_state: 'CONNECT', client_address: '192.0.2.77' }), ['conn:192.0.2.0/24*1']);
  assert.deepEqual(keys({ protocol_state: 'CONNECT', client_address: '2001:db8:1:2::9' }), ['conn:2001:db8:1:0:0:0:0:0/48*1']);
});

test('GIVEN an RCPT request WHEN planned THEN the recipient rules count, keys lower-cased', () => {
  assert.deepEqual(keys({ protocol_state: 'RCPT', client_address: '192.0.2.77', recipient: 'Ann@Example.ORG', sender: 'x@y.org' }), [
    'rcpt-client:192.0.2.77/32*1',
    'rcpt-domain:example.org*1',
  ]);
});

test('GIVEN a DATA request WHEN planned THEN messages count per SASL user and sender domain', () => {
  assert.deepEqual(keys({ protocol_state: 'DATA', client_address: '192.0.2.1', sasl_username: 'Ann', sender: 'ann@Example.org', recipient_count: '3' }), [
    'msg-user:ann*1',
    'msg-sender-domain:example.org*1',
  ]);
});

test('GIVEN an END-OF-MESSAGE request WHEN planned THEN bytes count by size, and a zero size counts nothing', () => {
  assert.deepEqual(keys({ protocol_state: 'END-OF-MESSAGE', sasl_username: 'ann', size: '4096' }), ['bytes-user:ann*4096']);
  assert.deepEqual(keys({ protocol_state: 'END-OF-MESSAGE', sasl_username: 'ann', size: '0' }), []);
});

test('GIVEN requests without the key attribute WHEN planned THEN those rules pass them by', () => {
  assert.deepEqual(keys({ protocol_state: 'DATA', client_address: '192.0.2.1', sender: '' }), [], 'no SASL login, null sender');
  assert.deepEqual(keys({ protocol_state: 'DATA', sender: 'no-domain' }), []);
  assert.deepEqual(keys({ protocol_state: 'RCPT', client_address: 'unknown', recipient: 'a@b.org' }), ['rcpt-domain:b.org*1']);
  assert.deepEqual(keys({ protocol_state: 'MAIL', client_address: '192.0.2.1' }), [], 'no rule counts at MAIL');
  assert.deepEqual(keys({ client_address: '192.0.2.1' }), [], 'no stage at all');
});

test('GIVEN rules limited to policy contexts WHEN planned THEN only requests of those contexts count against them', () => {
  const scoped = policy({
    rules: [
      { name: 'mx-client', key: 'client_address', count: 'recipients', windows: W, contexts: ['mta'] },
      { name: 'any-recipient', key: 'recipient', count: 'recipients', windows: W },
      { name: 'msa-user', key: 'sasl_username', count: 'recipients', windows: W, contexts: ['msa', 'msa-legacy'] },
    ],
  });
  const plan = (attributes: Record<string, string>) => planRequest(scoped, { protocol_state: 'RCPT', client_address: '192.0.2.7', recipient: 'a@b.org', sasl_username: 'ann', ...attributes }).map((b) => b.rule.name);
  assert.deepEqual(plan({ policy_context: 'mta' }), ['mx-client', 'any-recipient']);
  assert.deepEqual(plan({ policy_context: 'msa' }), ['any-recipient', 'msa-user']);
  assert.deepEqual(plan({ policy_context: 'msa-legacy' }), ['any-recipient', 'msa-user']);
  assert.deepEqual(plan({}), ['any-recipient'], 'a request without a context counts only against rules for every context');
  assert.deepEqual(plan({ policy_context: 'MTA' }), ['any-recipient'], 'contexts compare exactly');
});

test('GIVEN exempt networks and accounts WHEN planned THEN exempt requests count against nothing', () => {
  assert.deepEqual(keys({ protocol_state: 'RCPT', client_address: '10.1.2.3', recipient: 'a@b.org' }), [], 'the document exempts 10/8');
  assert.deepEqual(keys({ protocol_state: 'DATA', sasl_username: 'RELAY@example.org', sender: 'a@b.org' }), [], 'the document exempts relay@, without case');
  assert.deepEqual(keys({ protocol_state: 'RCPT', client_address: '2001:db8:ffff::1', recipient: 'a@b.org' }), ['rcpt-domain:b.org*1'], 'one rule exempts the network');
  assert.deepEqual(keys({ protocol_state: 'DATA', sasl_username: 'bulk@example.org', sender: 'a@b.org' }), ['msg-sender-domain:b.org*1'], 'one rule exempts the account');
});

test('GIVEN a sender of 5,000 characters WHEN planned THEN its key is a fixed-size hash', () => {
  const [bucket] = planRequest(RULES, { protocol_state: 'DATA', sender: `${'a'.repeat(5000)}@example.org`, sasl_username: '' }).filter((b) => b.rule.name === 'msg-sender-domain');
  assert.equal(bucket?.key, 'msg-sender-domain:example.org');
  const long = policy({ rules: [{ name: 's', key: 'sender', count: 'messages', windows: W }] });
  const [hashed] = planRequest(long, { protocol_state: 'DATA', sender: `${'a'.repeat(5000)}@example.org` });
  assert.match(hashed?.key ?? '', /^s:sha1:[0-9a-f]{40}$/);
});

test('GIVEN buckets over their limit WHEN decided THEN the first refusing rule wins over WARN, with its reply text', () => {
  const buckets = planRequest(RULES, { protocol_state: 'RCPT', client_address: '192.0.2.1', recipient: 'a@b.org' });
  assert.equal(decide(buckets, []), PASS);
  assert.deepEqual(decide(buckets, [1]), { reply: 'WARN many recipients at one domain', verb: 'WARN', rule: 'rcpt-domain' });
  assert.deepEqual(decide(buckets, [1, 0]), { reply: 'DEFER_IF_PERMIT 4.7.1 rate limit exceeded', verb: 'DEFER_IF_PERMIT', rule: 'rcpt-client' });
});

test('GIVEN each action WHEN its reply is formatted THEN the enhanced status code matches its class, unless the text brings one', () => {
  const replies = RULES.rules.map((r) => r.decision.reply);
  assert.deepEqual(replies, [
    'DEFER_IF_PERMIT 4.7.1 rate limit exceeded',
    'DEFER_IF_PERMIT 4.7.1 rate limit exceeded',
    'WARN many recipients at one domain',
    '450 4.7.1 rate limit exceeded',
    'REJECT 5.7.1 rate limit exceeded',
    'DEFER_IF_PERMIT 4.7.0 too many bytes',
  ]);
});

test('GIVEN buckets WHEN turned into a script call THEN each carries hard flag, cost and its windows in microseconds', () => {
  const buckets = planRequest(RULES, { protocol_state: 'END-OF-MESSAGE', sasl_username: 'ann', size: '500' });
  assert.deepEqual(scriptCall('mailfleet:p1:policy:', buckets), {
    keys: ['mailfleet:p1:policy:bytes-user:ann'],
    // 3600 s per 1,000,000 bytes: 3,600 µs a byte; a burst of 200,000 bytes holds 720 s.
    args: ['1', '500', '0', '1', '3600:1000000:200000', '3600', '720000000'],
  });
  // A count of one unit a request may ask for a lease; bytes never do, whatever the size.
  const conn = planRequest(RULES, { protocol_state: 'CONNECT', client_address: '192.0.2.1' });
  assert.deepEqual(scriptCall('p:', conn, (key) => (key === 'p:conn:192.0.2.0/24' ? 16 : 0)).args, ['1', '1', '16', '1', '60:10:10', '6000000', '60000000']);
  assert.deepEqual(scriptCall('p:', conn).args.slice(0, 3), ['1', '1', '0'], 'no lease unless asked');
  const oneByte = planRequest(RULES, { protocol_state: 'END-OF-MESSAGE', sasl_username: 'ann', size: '1' });
  assert.equal(scriptCall('p:', oneByte, () => 16).args[2], '0');
});

test('GIVEN a default action WHEN compiled THEN it is the fail-open reply', () => {
  assert.deepEqual(policy({ defaultAction: 'DEFER_IF_PERMIT 4.3.0 policy unavailable' }).failOpen, { reply: 'DEFER_IF_PERMIT 4.3.0 policy unavailable', verb: 'DEFER_IF_PERMIT', rule: '' });
  assert.deepEqual(policy({}).failOpen, { reply: 'DUNNO', verb: 'DUNNO', rule: '' });
});
