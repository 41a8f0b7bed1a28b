/**
 * Redis's clients send its password with AUTH: the kvs serves TLS 1.3 alone, with a certificate of the CA derived
 * from that password, for the address its clients dial. Stock redis-cli and openssl s_client see what a client gets;
 * the policy server counts through it; a new certificate is served without Redis restarting.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { instanceContext, reloadRedisTls } from '../../src/agent/index.ts';
import { redisTlsPath } from '../../src/config/index.ts';
import { deriveInternalCa, issueInternalCertificate, redisCa } from '../../src/internal-tls/index.ts';
import { validateSpec, withSecrets } from '../../src/spec/index.ts';
import { until } from '../support/poll.ts';
import { startPlatform } from '../support/platform.ts';

const POOL = '127.163.0.0/16';

/** `redis-cli` as a user runs it, the password from the environment (never on the command line). */
function redisCli(password: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 10_000, env: { ...process.env, REDISCLI_AUTH: password } });
  return { code: r.status ?? -1, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The certificate `openssl s_client` is served at `host:port`, and whether it verified against `ca` for that address. */
function served(host: string, port: number, ca: string, extra: string[] = []): { certificate?: X509Certificate; verified: boolean } {
  const r = spawnSync('openssl', ['s_client', '-connect', `${host}:${port}`, '-CAfile', ca, '-verify_ip', host, ...extra], { input: '', encoding: 'utf8', timeout: 10_000 });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  return { ...(pem ? { certificate: new X509Certificate(pem) } : {}), verified: /Verify return code: 0 \(ok\)/.test(r.stdout) };
}

test('Redis serves its clients TLS 1.3 only, with a certificate of the Redis CA', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    // The policy server runs while an mta asks it.
    roles: { mta: 1, msa: 0, proxy: 1, mailbox: 1, ldap: 1, kvs: 1 },
    policy: {},
  });
  const kvs = await platform.instance('kvs-0');
  const port = kvs.ports.redis as number;
  const password = (JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>)['redis-password'];
  assert.ok(password, 'the generated Redis password');
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-redis-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'redis-ca.pem');
  writeFileSync(caFile, redisCa(password).certPem);
  const strangerFile = join(dir, 'other-ca.pem');
  writeFileSync(strangerFile, deriveInternalCa(password, 'backend').certPem);

  await t.test('GIVEN the CA WHEN redis-cli connects over TLS THEN Redis answers', () => {
    const ping = redisCli(password, ['--tls', '--cacert', caFile, '-h', kvs.address, '-p', String(port), '--no-auth-warning', 'PING']);
    assert.equal(ping.out, 'PONG', ping.err);
  });

  await t.test('GIVEN redis-cli in plain TCP WHEN it sends the password THEN nothing answers', () => {
    const plain = redisCli(password, ['-h', kvs.address, '-p', String(port), '--no-auth-warning', 'PING']);
    assert.notEqual(plain.out, 'PONG');
    assert.doesNotMatch(plain.out, /NOAUTH|WRONGPASS/, 'no Redis reply at all');
  });

  await t.test('GIVEN another CA WHEN redis-cli connects THEN it refuses the certificate and sends nothing', () => {
    const refused = redisCli(password, ['--tls', '--cacert', strangerFile, '-h', kvs.address, '-p', String(port), '--no-auth-warning', 'PING']);
    assert.notEqual(refused.out, 'PONG');
    assert.match(refused.err + refused.out, /certificate verify failed|SSL/i);
  });

  await t.test('GIVEN openssl s_client WHEN it asks for TLS 1.2 THEN it gets no certificate; with 1.3 one of the Redis CA for the kvs address', () => {
    assert.equal(served(kvs.address, port, caFile, ['-tls1_2']).certificate, undefined);
    const now = served(kvs.address, port, caFile);
    assert.ok(now.verified);
    assert.equal(now.certificate?.issuer, 'CN=mailfleet redis CA\nO=mailfleet');
  });

  await t.test('GIVEN the policy server WHEN it runs THEN it reached Redis over TLS', async () => {
    const policy = await platform.instance('policy-0');
    const up = await until('mailfleet_policy_redis_up 1', async () => {
      const res = await fetch(`http://${policy.address}:${policy.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      return /^mailfleet_policy_redis_up(\{[^}]*\})? 1$/m.test(text) ? text : undefined;
    }, 30_000, 250);
    assert.match(up, /mailfleet_policy_redis_up/);
    const clients = redisCli(password, ['--tls', '--cacert', caFile, '-h', kvs.address, '-p', String(port), '--no-auth-warning', 'CLIENT', 'LIST']);
    assert.match(clients.out, /name=mailfleet-policy/, 'the policy server is a client');
  });

  await t.test('GIVEN a new certificate in place WHEN the agent has Redis read it THEN it is served for new connections, Redis still the same process', async () => {
    const instance = instanceContext(platform.stateDir, 'kvs', 'kvs-0', kvs.address);
    const pidFile = join(instance.runDir, 'redis.pid');
    const pid = readFileSync(pidFile, 'utf8').trim();
    const before = served(kvs.address, port, caFile).certificate?.serialNumber;
    writeFileSync(redisTlsPath(instance), issueInternalCertificate(redisCa(password), { hosts: [kvs.address], validityDays: 2 }).pem, { mode: 0o600 });
    const spec = withSecrets(validateSpec(JSON.parse(readFileSync(join(platform.stateDir, 'spec.json'), 'utf8'))).spec, { redisPassword: password });
    await reloadRedisTls(spec, instance);
    const after = served(kvs.address, port, caFile);
    assert.ok(after.verified);
    assert.notEqual(after.certificate?.serialNumber, before);
    assert.ok(new Date(after.certificate?.validTo ?? 0).getTime() < Date.now() + 3 * 86_400_000);
    assert.equal(readFileSync(pidFile, 'utf8').trim(), pid);
  });
});
