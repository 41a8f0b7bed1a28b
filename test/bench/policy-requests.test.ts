import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { validatePolicyRules } from '../../src/policy/index.ts';
import { latestRefusal } from '../../bench/policy/check.ts';
import { flat } from '../../bench/policy/report.ts';
import { PROBE_CLIENT, probeRequest, requestPool } from '../../bench/policy/requests.ts';
import { mailfleetRules, policydConfig, postfwdRules, RULE } from '../../bench/policy/rule.ts';

/** Postfix 3.7's attributes of a policy request, in the order smtpd sends them. */
const POSTFIX_37_ATTRIBUTES = [
  'request', 'protocol_state', 'protocol_name', 'client_address', 'client_name', 'client_port', 'reverse_client_name', 'server_address',
  'server_port', 'helo_name', 'sender', 'recipient', 'recipient_count', 'queue_id', 'instance', 'size', 'etrn_domain', 'stress',
  'sasl_method', 'sasl_username', 'sasl_sender', 'ccert_subject', 'ccert_issuer', 'ccert_fingerprint', 'ccert_pubkey_fingerprint',
  'encryption_protocol', 'encryption_cipher', 'encryption_keysize', 'policy_context',
];

function attributes(req: Buffer): Map<string, string> {
  const text = req.toString('latin1');
  assert.ok(text.endsWith('\n\n'), 'ends with an empty line');
  const lines = text.slice(0, -2).split('\n');
  assert.ok(lines.every((l) => l !== ''), 'no empty line before the end');
  return new Map(lines.map((l) => {
    const at = l.indexOf('=');
    assert.ok(at > 0, `name=value: ${l}`);
    return [l.slice(0, at), l.slice(at + 1)];
  }));
}

const inClientNetworks = (a: string) => (isIP(a) === 4 ? /^198\.(18|19)\.\d+\.\d+$/.test(a) : /^2001:db8:/.test(a));

describe('policy bench: requests', () => {
  const pool = requestPool({ seed: 1, requests: 4000, clients: 1000 });

  it('GIVEN one seed WHEN the pool is built twice THEN the bytes are the same; another seed differs', () => {
    const again = requestPool({ seed: 1, requests: 4000, clients: 1000 });
    assert.ok(Buffer.concat(again.requests).equals(Buffer.concat(pool.requests)));
    assert.ok(!Buffer.concat(requestPool({ seed: 2, requests: 4000, clients: 1000 }).requests).equals(Buffer.concat(pool.requests)));
  });

  it('GIVEN the pool THEN every request is a Postfix 3.7 RCPT request: every attribute once, in order, one empty line at the end', () => {
    assert.equal(pool.requests.length, 4000);
    for (const req of pool.requests) {
      const attrs = attributes(req);
      assert.deepEqual([...attrs.keys()], POSTFIX_37_ATTRIBUTES);
      assert.equal(attrs.get('request'), 'smtpd_access_policy');
      assert.equal(attrs.get('protocol_state'), 'RCPT');
      assert.match(attrs.get('recipient') ?? '', /^[a-z0-9.]+@[a-z.]+$/);
      assert.ok(!req.includes(0x0d) && req.length < 1024);
    }
  });

  it('GIVEN the pool THEN the clients come from the benchmarking networks, about 1 in 10 IPv6, never the probe client', () => {
    const clients = pool.requests.map((r) => attributes(r).get('client_address') ?? '');
    assert.ok(clients.every((c) => isIP(c) !== 0 && inClientNetworks(c)));
    assert.ok(!clients.includes(PROBE_CLIENT));
    const v6 = clients.filter((c) => isIP(c) === 6).length / clients.length;
    assert.ok(v6 > 0.05 && v6 < 0.15, `IPv6 share ${v6}`);
    assert.ok(new Set(clients).size > 800, 'most of the 1000 clients appear');
    assert.equal([...pool.perClient.values()].reduce((a, b) => a + b, 0), 4000);
  });

  it('GIVEN a transaction THEN its requests share client, sender and instance, and only the first has no queue id', () => {
    const byInstance = new Map<string, Map<string, string>[]>();
    for (const req of pool.requests) {
      const a = attributes(req);
      byInstance.set(a.get('instance') ?? '', [...(byInstance.get(a.get('instance') ?? '') ?? []), a]);
    }
    const multi = [...byInstance.values()].filter((t) => t.length > 1);
    assert.ok(multi.length > 100);
    for (const t of multi) {
      assert.equal(new Set(t.map((a) => `${a.get('client_address')} ${a.get('sender')}`)).size, 1);
      assert.equal(t[0]?.get('queue_id'), '');
      assert.ok(t.slice(1).every((a) => /^[0-9A-F]{10}$/.test(a.get('queue_id') ?? '')));
    }
    const submissions = pool.requests.map(attributes).filter((a) => a.get('sasl_username') !== '');
    assert.ok(submissions.length > 400 && submissions.every((a) => a.get('server_port') === '587' && a.get('sasl_method') === 'PLAIN'));
  });

  it('GIVEN the probe requests THEN they come from the probe client, one recipient each', () => {
    const a = attributes(probeRequest(5));
    assert.equal(a.get('client_address'), PROBE_CLIENT);
    assert.equal(a.get('protocol_state'), 'RCPT');
    assert.notEqual(a.get('recipient'), attributes(probeRequest(6)).get('recipient'));
  });
});

describe('policy bench: the rule for each server', () => {
  it('GIVEN postfwd THEN one rate() per client_address at RCPT with the limit, window and action', () => {
    const rule = postfwdRules().split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    assert.deepEqual(rule, [`id=RCPT_PER_CLIENT; protocol_state==RCPT; action=rate(client_address/${RULE.limit}/${RULE.seconds}/${RULE.action} ${RULE.text})`]);
  });

  it('GIVEN policyd-rate-limit THEN it limits by client address only, for the load and probe networks, in SQLite, quietly', () => {
    const c = parse(policydConfig({ pidfile: '/x/run/p.pid', database: '/x/db/db.sqlite3' }, { host: '127.118.0.3', port: 10040 }));
    assert.deepEqual(c.limits, [[RULE.limit, RULE.seconds]]);
    assert.deepEqual([c.limit_by_ip, c.limit_by_sasl, c.limit_by_sender, c.debug, c.backend], [true, false, false, false, 0]);
    assert.deepEqual(c.limited_networks, ['198.18.0.0/15', '2001:db8::/32', '192.0.2.0/24']);
    assert.deepEqual(c.SOCKET, ['127.118.0.3', 10040]);
    assert.equal(c.fail_action, 'defer_if_permit 4.7.1 rate limit exceeded');
  });

  it('GIVEN mailfleet THEN one rule counting recipients per client address, each IPv6 address apart, that its validator accepts', () => {
    const rules = validatePolicyRules(parse(mailfleetRules()), '', 'bench rules');
    assert.equal(rules.rules.length, 1);
    assert.deepEqual(rules.rules[0]?.windows, [{ limit: RULE.limit, seconds: RULE.seconds }]);
    assert.deepEqual(parse(mailfleetRules()), {
      defaultAction: 'DUNNO',
      rules: [{ name: 'rcpt-per-client', key: 'client_address', count: 'recipients', windows: [{ limit: 1000, seconds: 60 }], ipv6Prefix: 128, action: 'DEFER_IF_PERMIT', text: '4.7.1 rate limit exceeded' }],
    });
  });

  it('GIVEN the rule check THEN a GCRA may refuse later by what leaked during the check, a window at once', () => {
    assert.equal(latestRefusal(1000, 60, 0), 1001);
    assert.equal(latestRefusal(1000, 60, 0.9), 1016);
    assert.equal(latestRefusal(1000, 60, 6), 1101);
  });

  it('GIVEN RSS over a window THEN flat allows the larger of 5 MB and 10%', () => {
    assert.ok(flat(40, 45));
    assert.ok(!flat(40, 45.1));
    assert.ok(flat(200, 220));
    assert.ok(!flat(200, 220.1));
    assert.ok(flat(60, 50));
  });
});
