/**
 * Brute-force protection with the real pieces: a real Dovecot (its auth policy client configured by the proxy
 * generator's own lines), a real Redis and the policy server. IMAP clients log in from their own loopback source
 * addresses, so Dovecot sees each as a different client.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { installAuthPolicyCa } from '../../src/agent/index.ts';
import { dovecotAuthPolicySettings, type ConfigInput } from '../../src/config/index.ts';
import { authPolicyCa } from '../../src/internal-tls/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';
import { freePort, metric, REDIS, startPolicy, startRedis, type RunningPolicy } from './policy/harness.ts';
import { findProgram, startDaemon } from './protocol/daemon.ts';

const DOVECOT = findProgram('dovecot');
const SKIP = DOVECOT === undefined || REDIS === undefined ? 'dovecot or redis-server is not installed' : process.getuid?.() !== 0 ? 'dovecot needs root' : false;
const TEST = { timeout: 120_000, skip: SKIP };
const PASSWORD = 'right-password';
const API_KEY = 'dovecot-test-api-key-0123456789';
const NONCE = 'dovecot-test-nonce-0123456789';
const DEADLINE_MS = 100;
const RULES = {
  rules: [],
  auth: {
    rules: [
      // An hour: a failure drains out of the count only after 20 minutes, longer than the test takes.
      { name: 'addr', key: 'remote', windows: [{ limit: 3, seconds: 3600 }] },
      { name: 'acct', key: 'login', windows: [{ limit: 4, seconds: 3600 }] },
    ],
  },
};

interface Rig {
  readonly imap: { host: string; port: number };
  readonly policy: RunningPolicy;
  readonly redis: Awaited<ReturnType<typeof startRedis>>;
}

/** One IMAP LOGIN from `source`; resolves with the tagged reply's status (OK, NO, BAD) and how long the login took. */
async function login(imap: { host: string; port: number }, source: string, user: string, password: string): Promise<{ status: string; ms: number }> {
  const socket = createConnection({ host: imap.host, port: imap.port, localAddress: source });
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    let buffer = '';
    const line = async (pattern: RegExp): Promise<string> => {
      for (;;) {
        const found = buffer.split('\r\n').find((l) => pattern.test(l));
        if (found !== undefined) return found;
        const [chunk] = (await Promise.race([once(socket, 'data'), once(socket, 'close').then(() => [Buffer.from('')])])) as [Buffer];
        if (chunk.length === 0) throw new Error(`connection closed, got ${JSON.stringify(buffer)}`);
        buffer += chunk.toString('utf8');
      }
    };
    await line(/^\* OK/);
    const started = performance.now();
    socket.write(`a LOGIN "${user}" "${password}"\r\n`);
    const reply = await line(/^a (OK|NO|BAD)/);
    return { status: reply.split(' ')[1] as string, ms: performance.now() - started };
  } finally {
    socket.destroy();
  }
}

async function startRig(t: TestContext): Promise<Rig> {
  const redis = await startRedis(t, '127.135.0.1');
  const authPort = await freePort('127.135.0.2');
  // HTTPS for the address the proxy dials, as `mailfleet policy` serves it.
  const policy = await startPolicy(t, { host: '127.135.0.2', redis, rules: RULES, deadlineMs: DEADLINE_MS, auth: { listen: { host: '127.135.0.2', port: authPort }, apiKey: API_KEY, tlsNames: ['127.135.0.2'] } });
  const dir = await mkdtemp(join(tmpdir(), 'mailfleet-test-auth-policy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Dovecot's auth process reads the CA file as its own user, as it reads it in a proxy's run dir.
  await chmod(dir, 0o755);
  const instance = { role: 'proxy', name: 'proxy-0', listen: '127.135.0.3', runDir: join(dir, 'agent-run'), configDir: dir, dataDir: dir, mailDir: dir, tlsDir: dir } as const;
  const imapPort = await freePort('127.135.0.3');
  // The proxy's own settings, from the generator, for a policy instance at 127.135.0.2.
  const spec = withSecrets(testSpec(`ports: { authPolicy: ${authPort} }\npolicy: { deadlineMs: ${DEADLINE_MS} }`), { authPolicyApiKey: API_KEY, authPolicyHashNonce: NONCE });
  const input = { spec, instance, peers: { policy: [{ name: 'policy-0', host: '127.135.0.2' }] } } as unknown as ConfigInput;
  const settings = dovecotAuthPolicySettings(input);
  assert.ok(settings.length > 0, 'the generator configures the auth policy');
  assert.ok(settings.includes(`auth_policy_server_url = https://127.135.0.2:${authPort}/`), 'over HTTPS');
  // The CA file, where a proxy's agent writes it.
  installAuthPolicyCa(spec, instance);
  await writeFile(join(dir, 'dovecot.conf'), [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    'instance_name = mailfleet-test-auth-policy',
    'protocols = imap',
    'listen = 127.135.0.3',
    'log_path = /dev/stderr',
    'ssl = no',
    'disable_plaintext_auth = no',
    // Failures answered at once. Dovecot's own penalty for repeated failures from one address (2 s, doubling up to
    // 15 s) stays: it is what a real client meets, and why the address rule's test needs only three failures.
    'auth_failure_delay = 0',
    ...settings,
    'passdb {',
    '  driver = static',
    `  args = password=${PASSWORD}`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=nobody gid=nogroup home=${dir}/home/%u`,
    '}',
    'service imap-login {',
    '  inet_listener imap {',
    `    port = ${imapPort}`,
    '  }',
    '  inet_listener imaps {',
    '    port = 0',
    '  }',
    '}',
    '',
  ].join('\n'));
  const daemon = await startDaemon(DOVECOT as string, ['-F', '-c', join(dir, 'dovecot.conf')], /starting up/);
  t.after(() => daemon.stop());
  return { imap: { host: '127.135.0.3', port: imapPort }, policy, redis };
}

test('GIVEN a real Dovecot asking the policy server', TEST, async (t) => {
  const rig = await startRig(t);
  const { imap, policy } = rig;

  await t.test('GIVEN the policy server\'s auth listener WHEN a client speaks plain HTTP or trusts another CA THEN nothing is served; with the hop\'s CA the certificate names the address dialled', async () => {
    const { host, port } = await policy.server.authListening;
    const plain = await new Promise<string>((resolve) => {
      const socket = createConnection({ host, port });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('error', () => resolve(got));
      socket.on('close', () => resolve(got));
      socket.write(`POST /?command=allow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\nContent-Length: 2\r\n\r\n{}`);
    });
    assert.doesNotMatch(plain, /^HTTP\/1\.1 200/, 'no answer in clear');
    const handshake = (ca: string) => new Promise<void>((resolve, reject) => {
      const socket = tlsConnect({ host, port, ca, servername: '' }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
    await handshake(authPolicyCa(API_KEY).certPem);
    await assert.rejects(handshake(authPolicyCa('another-platform-auth-policy-key-0123').certPem), /self.signed|unable to verify|certificate/i);
  });

  await t.test('WHEN one address fails three logins THEN it is refused even with the right password, and another address logs in', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login(imap, '127.135.1.1', `user${i}@example.com`, `wrong${i}`)).status, 'NO');
    assert.equal((await login(imap, '127.135.1.1', 'user9@example.com', PASSWORD)).status, 'NO', 'refused with the right password');
    assert.equal((await login(imap, '127.135.1.2', 'user9@example.com', PASSWORD)).status, 'OK', 'another address is not');
    assert.equal(await metric(policy.registry, 'mailfleet_policy_auth_failures_counted_total', { rule: 'addr' }), 3, 'the refused login is not counted again');
    assert.ok(await metric(policy.registry, 'mailfleet_policy_auth_requests_total', { command: 'allow', verdict: 'reject', rule: 'addr' }) >= 1);
  });

  await t.test('WHEN failures against one account come from many addresses THEN the account is refused, except from where it logged in before', async () => {
    assert.equal((await login(imap, '127.135.2.100', 'victim@example.com', PASSWORD)).status, 'OK', 'its owner, before the attack');
    for (let i = 0; i < 4; i++) assert.equal((await login(imap, `127.135.2.${i + 1}`, 'victim@example.com', `guess${i}`)).status, 'NO');
    assert.equal((await login(imap, '127.135.2.50', 'victim@example.com', PASSWORD)).status, 'NO', 'a fifth address, even with the right password');
    assert.equal((await login(imap, '127.135.2.100', 'victim@example.com', PASSWORD)).status, 'OK', 'its owner, from the address it used');
    assert.equal((await login(imap, '127.135.2.50', 'bystander@example.com', PASSWORD)).status, 'OK', 'another account');
  });

  await t.test('WHEN one client retries the same stale password THEN the account is not locked', async () => {
    for (let i = 0; i < 4; i++) assert.equal((await login(imap, `127.135.3.${i + 1}`, 'phone@example.com', 'stale')).status, 'NO');
    assert.equal((await login(imap, '127.135.3.50', 'phone@example.com', PASSWORD)).status, 'OK');
  });

  await t.test('WHEN Redis is stopped THEN logins still succeed within the deadline and the fail-open metric moves', async () => {
    const before = await metric(policy.registry, 'mailfleet_policy_auth_fail_open_total', { reason: 'redis_down' });
    await rig.redis.kill();
    const result = await login(imap, '127.135.4.1', 'someone@example.com', PASSWORD);
    assert.equal(result.status, 'OK');
    // Dovecot's own work around a login takes a few milliseconds; waiting for its policy timeout would take 500 ms more.
    assert.ok(result.ms < 450, `login took ${result.ms.toFixed(0)} ms`);
    assert.ok((await metric(policy.registry, 'mailfleet_policy_auth_fail_open_total', { reason: 'redis_down' })) > before);
    assert.equal((await login(imap, '127.135.1.1', 'user9@example.com', PASSWORD)).status, 'OK', 'the refused address too: Redis cannot say it is over');
  });
});
