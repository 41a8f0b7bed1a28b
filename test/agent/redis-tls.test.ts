import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { installRedisTls, redisTlsHosts } from '../../src/agent/redis-tls.ts';
import { redisTlsPath, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { redisCa } from '../../src/internal-tls/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const PASSWORD = 'redis-password-for-the-tls-test';
const spec = withSecrets(testSpec(), { redisPassword: PASSWORD });
const PEERS: Peers = { ldap: [], kvs: [{ name: 'kvs-0', host: 'kvs-0.kvs.mail.svc.cluster.local' }], mta: [], msa: [], proxy: [], mailbox: [] };
const certificateOf = (pem: string): X509Certificate => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));

function kvs(t: TestContext, extra: Partial<InstanceContext> = {}): InstanceContext {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-redis-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { role: 'kvs', name: 'kvs-0', listen: '0.0.0.0', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls'), ...extra };
}

test('GIVEN a kvs pod WHEN its names are asked THEN they are its IP, the DNS name clients dial and 127.0.0.1, which its readiness dials', (t) => {
  assert.deepEqual(redisTlsHosts(kvs(t, { address: '10.42.0.3' }), PEERS), ['10.42.0.3', 'kvs-0.kvs.mail.svc.cluster.local', '127.0.0.1']);
  const local = kvs(t, { listen: '127.77.0.5' });
  assert.deepEqual(redisTlsHosts(local, { ...PEERS, kvs: [{ name: 'kvs-0', host: '127.77.0.5' }] }), ['127.77.0.5'], 'one host: its address alone');
});

test('GIVEN a kvs WHEN its certificate is issued THEN Redis gets a file only its user reads, from the CA of the Redis password', (t) => {
  const inst = kvs(t, { address: '10.42.0.3' });
  const now = Date.UTC(2026, 11, 7);
  assert.equal(installRedisTls(spec, inst, PEERS, now).getTime(), now + 30 * 86_400_000);
  const file = redisTlsPath(inst);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const pem = readFileSync(file, 'utf8');
  assert.match(pem, /PRIVATE KEY/, 'key and certificate in one file (tls-key-file and tls-cert-file name it both)');
  const leaf = certificateOf(pem);
  assert.ok(leaf.checkIssued(certificateOf(redisCa(PASSWORD).certPem)));
  assert.equal(leaf.checkHost('kvs-0.kvs.mail.svc.cluster.local'), 'kvs-0.kvs.mail.svc.cluster.local');
  assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
});

test('GIVEN no Redis password WHEN a kvs starts THEN it stops naming the missing secret', (t) => {
  assert.throws(() => installRedisTls(testSpec(), kvs(t), PEERS), { code: 'SECRET_MISSING' });
});
