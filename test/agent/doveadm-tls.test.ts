import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { doveadmTlsHosts, installDoveadmTls, renewDoveadmTls } from '../../src/agent/doveadm-tls.ts';
import { doveadmTlsPath, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { deriveInternalCa, doveadmCa, INTERNAL_TLS_RENEW_BEFORE_MS } from '../../src/internal-tls/index.ts';
import { instanceRegistry } from '../../src/metrics/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { capturedLogger } from '../support/log-lines.ts';
import { until } from '../support/poll.ts';
import { testSpec } from '../support/spec.ts';

const KEY = 'doveadm-api-key-0123456789abcdef';
const spec = withSecrets(testSpec(), { doveadmApiKey: KEY });
const PEERS: Peers = { ldap: [], kvs: [], mta: [], msa: [], proxy: [{ name: 'proxy-0', host: 'proxy-0.proxy.mail.svc.cluster.local' }], mailbox: [] };
const certificateOf = (pem: string): X509Certificate => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));

function proxy(t: TestContext, extra: Partial<InstanceContext> = {}): InstanceContext {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-doveadm-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { role: 'proxy', name: 'proxy-0', listen: '0.0.0.0', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls'), ...extra };
}

test('GIVEN a proxy pod WHEN its doveadm certificate is issued THEN it names its IP and the DNS name the controller dials, root only, from the CA of the API key', (t) => {
  const inst = proxy(t, { address: '10.42.0.9' });
  assert.deepEqual(doveadmTlsHosts(inst, PEERS), ['10.42.0.9', 'proxy-0.proxy.mail.svc.cluster.local']);
  const now = Date.UTC(2026, 11, 7);
  const notAfter = installDoveadmTls(spec, inst, PEERS, now);
  assert.equal(notAfter.getTime(), now + 30 * 86_400_000);
  const file = doveadmTlsPath(inst);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const leaf = certificateOf(readFileSync(file, 'utf8'));
  assert.ok(leaf.checkIssued(certificateOf(doveadmCa(KEY).certPem)));
  assert.ok(leaf.verify(createPublicKey(doveadmCa(KEY).key)), 'signed by the key every caller derives');
  assert.equal(leaf.verify(createPublicKey(deriveInternalCa(KEY, 'backend').key)), false, 'not by another hop\'s CA from the same secret');
  assert.equal(leaf.checkHost('proxy-0.proxy.mail.svc.cluster.local'), 'proxy-0.proxy.mail.svc.cluster.local');
  assert.equal(leaf.checkIP('10.42.0.9'), '10.42.0.9');
});

test('GIVEN no doveadm API key WHEN a proxy starts THEN it stops naming the missing secret', (t) => {
  assert.throws(() => installDoveadmTls(testSpec(), proxy(t), PEERS), { code: 'SECRET_MISSING' });
});

test('GIVEN a served doveadm certificate WHEN it nears its end THEN a new one is written and Dovecot reloads, and the metric follows', async (t) => {
  const inst = proxy(t, { address: '10.42.0.9' });
  let clock = Date.UTC(2026, 11, 7);
  const end = installDoveadmTls(spec, inst, PEERS, clock);
  const before = certificateOf(readFileSync(doveadmTlsPath(inst), 'utf8')).serialNumber;
  const { log } = capturedLogger();
  const registry = instanceRegistry('proxy', 'proxy-0');
  let reloads = 0;
  const renewal = renewDoveadmTls({ spec, instance: inst, peers: () => PEERS, notAfter: end, reload: async () => void reloads++, log, registry, checkMs: 5, now: () => clock });
  t.after(() => renewal.close());
  assert.match(await registry.metrics(), new RegExp(`^mailfleet_agent_doveadm_tls_expiry_timestamp_seconds\\{[^}]*\\} ${end.getTime() / 1000}$`, 'm'));
  clock = end.getTime() - INTERNAL_TLS_RENEW_BEFORE_MS + 1;
  await until('a renewal', async () => (reloads === 1 ? true : undefined), 2000, 5);
  assert.notEqual(certificateOf(readFileSync(doveadmTlsPath(inst), 'utf8')).serialNumber, before);
  assert.match(await registry.metrics(), new RegExp(`^mailfleet_agent_doveadm_tls_expiry_timestamp_seconds\\{[^}]*\\} ${Math.floor((clock + 30 * 86_400_000) / 1000)}$`, 'm'));
});
