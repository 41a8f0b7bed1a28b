import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { backendTlsHosts, installBackendTls, renewBackendTls } from '../../src/agent/backend-tls.ts';
import { INTERNAL_TLS_RENEW_BEFORE_MS } from '../../src/internal-tls/index.ts';
import { backendTlsFiles, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { instanceRegistry } from '../../src/metrics/index.ts';
import { withSecrets, type Role } from '../../src/spec/index.ts';
import { deriveInternalCa } from '../../src/internal-tls/index.ts';
import { capturedLogger } from '../support/log-lines.ts';
import { until } from '../support/poll.ts';
import { testSpec } from '../support/spec.ts';

const KEY = 'backend-tls-key-0123456789abcdef';
const spec = withSecrets(testSpec(), { backendTlsKey: KEY });
const PEERS: Peers = { ldap: [], kvs: [], mta: [], msa: [], proxy: [{ name: 'proxy-0', host: 'proxy-0.proxy.mail.svc.cluster.local' }], mailbox: [{ name: 'mailbox-0', host: 'mailbox-0.mailbox.mail.svc.cluster.local' }] };
const certificateOf = (pem: string): X509Certificate => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));

function instance(t: TestContext, role: Role, extra: Partial<InstanceContext> = {}): InstanceContext {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-backend-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { role, name: `${role}-0`, listen: '0.0.0.0', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls'), ...extra };
}

test('GIVEN a pod WHEN its names are asked THEN they are its IP and its DNS name, never the wildcard address it listens on', () => {
  const pod = { role: 'mailbox', name: 'mailbox-0', listen: '0.0.0.0', address: '10.42.0.17' } as InstanceContext;
  assert.deepEqual(backendTlsHosts(pod, PEERS), ['10.42.0.17', 'mailbox-0.mailbox.mail.svc.cluster.local']);
  const local = { role: 'mailbox', name: 'mailbox-0', listen: '127.77.4.1' } as InstanceContext;
  assert.deepEqual(backendTlsHosts(local, { ...PEERS, mailbox: [{ name: 'mailbox-0', host: '127.77.4.1' }] }), ['127.77.4.1'], 'an address as its peer name adds nothing');
});

test('GIVEN a mailbox backend WHEN installed THEN its Dovecot gets a root-only key and a certificate the backend CA issued for its address', (t) => {
  const inst = instance(t, 'mailbox', { address: '10.42.0.17' });
  const now = Date.UTC(2026, 11, 7);
  const notAfter = installBackendTls(spec, inst, PEERS, now);
  assert.equal(notAfter?.getTime(), now + 30 * 86_400_000);
  const file = backendTlsFiles(inst).served;
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const leaf = certificateOf(readFileSync(file, 'utf8'));
  assert.ok(leaf.checkIssued(certificateOf(deriveInternalCa(KEY, 'backend').certPem)));
  assert.equal(leaf.checkIP('10.42.0.17'), '10.42.0.17');
  assert.equal(existsSync(backendTlsFiles(inst).ca), false, 'a backend trusts nothing of the hop');
});

test('GIVEN a proxy WHEN installed THEN its Dovecot gets the backend CA and no key', (t) => {
  const inst = instance(t, 'proxy');
  assert.equal(installBackendTls(spec, inst, PEERS), undefined);
  const ca = readFileSync(backendTlsFiles(inst).ca, 'utf8');
  assert.doesNotMatch(ca, /PRIVATE KEY/);
  assert.equal(certificateOf(ca).subject, 'CN=mailfleet backend CA\nO=mailfleet');
  assert.equal(existsSync(backendTlsFiles(inst).served), false);
});

test('GIVEN no proxies, or another role WHEN installed THEN nothing is written and no key is asked for', (t) => {
  const noProxies = testSpec('roles: { proxy: { replicas: 0 }, mta: { replicas: 0 }, msa: { replicas: 0 } }');
  const inst = instance(t, 'mailbox');
  assert.equal(installBackendTls(noProxies, inst, PEERS), undefined);
  assert.equal(existsSync(backendTlsFiles(inst).served), false);
  assert.equal(installBackendTls(spec, instance(t, 'mta'), PEERS), undefined);
  assert.throws(() => installBackendTls(testSpec(), instance(t, 'mailbox'), PEERS), { code: 'SECRET_MISSING' }, 'the hop runs and the key is not there');
});

test('GIVEN a served certificate WHEN it nears its end THEN a new one is issued and Dovecot reloads; a failure is logged and tried again', async (t) => {
  let clock = Date.UTC(2026, 11, 7);
  const end = new Date(clock + 30 * 86_400_000);
  const { log, lines: logged } = capturedLogger();
  let issued = 0;
  let reloads = 0;
  let failing = true;
  const registry = instanceRegistry('mailbox', 'mailbox-0');
  const renewal = renewBackendTls({
    notAfter: end,
    issue: () => {
      issued++;
      if (failing) throw new Error('no space left on device');
      return new Date(clock + 30 * 86_400_000);
    },
    reload: async () => {
      reloads++;
    },
    log,
    registry,
    checkMs: 5,
    now: () => clock,
  });
  t.after(() => renewal.close());
  assert.match(await registry.metrics(), new RegExp(`^mailfleet_agent_backend_tls_expiry_timestamp_seconds\\{[^}]*\\} ${end.getTime() / 1000}$`, 'm'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(issued, 0, 'not while more than ten days are left');
  clock = end.getTime() - INTERNAL_TLS_RENEW_BEFORE_MS + 1;
  await until('a failed renewal logged', async () => logged().find((l) => l.msg === 'backend TLS certificate renewal failed'), 2000, 5);
  assert.equal(reloads, 0);
  failing = false;
  await until('a renewal', async () => (reloads === 1 ? true : undefined), 2000, 5);
  assert.ok(issued >= 2);
  assert.match(await registry.metrics(), new RegExp(`^mailfleet_agent_backend_tls_expiry_timestamp_seconds\\{[^}]*\\} ${Math.floor((clock + 30 * 86_400_000) / 1000)}$`, 'm'));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(reloads, 1, 'the new certificate is not due: no second renewal');
});
