import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { installLdapTls, ldapiUrl, ldapTlsHosts } from '../../src/agent/ldap-tls.ts';
import { ldapCa, ldapCaFile, ldapCaSecretValue, ldapServedPath, redactSpec, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const KEY = 'ldap-tls-key-0123456789abcdef';
const spec = withSecrets(testSpec(), { ldapTlsKey: KEY });
const PEERS: Peers = { ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap.mail.svc.cluster.local' }], kvs: [], mta: [], msa: [], proxy: [], mailbox: [] };
const certificateOf = (pem: string): X509Certificate => new X509Certificate(pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----')));

function instance(t: TestContext, extra: Partial<InstanceContext> = {}): InstanceContext {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-ldap-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { role: 'ldap', name: 'ldap-0', listen: '127.77.0.4', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls'), ...extra };
}

test('GIVEN slapd in a pod or on one host WHEN its names are asked THEN they are what clients dial, and 127.0.0.1 where it listens on every address', () => {
  const pod = { role: 'ldap', name: 'ldap-0', listen: '0.0.0.0', address: '10.42.0.9' } as InstanceContext;
  assert.deepEqual(ldapTlsHosts(pod, PEERS), ['10.42.0.9', 'ldap-0.ldap.mail.svc.cluster.local', '127.0.0.1']);
  const local = { role: 'ldap', name: 'ldap-0', listen: '127.77.0.4' } as InstanceContext;
  assert.deepEqual(ldapTlsHosts(local, { ...PEERS, ldap: [{ name: 'ldap-0', host: '127.77.0.4' }] }), ['127.77.0.4']);
});

test('GIVEN the LDAP TLS key WHEN slapd\'s certificate is installed THEN the file holds a key and a certificate of the hop\'s CA for its address, readable by its owner only', (t) => {
  const inst = instance(t);
  const now = Date.UTC(2026, 11, 7);
  const notAfter = installLdapTls(spec, inst, { ...PEERS, ldap: [{ name: 'ldap-0', host: '127.77.0.4' }] }, now);
  assert.equal(notAfter.getTime(), now + 30 * 86_400_000);
  const file = ldapServedPath(inst);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const pem = readFileSync(file, 'utf8');
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  const leaf = certificateOf(pem);
  assert.ok(leaf.checkIssued(certificateOf(ldapCa(KEY).certPem)));
  assert.ok(leaf.verify(certificateOf(ldapCa(KEY).certPem).publicKey));
  assert.equal(leaf.checkIP('127.77.0.4'), '127.77.0.4');
  assert.equal(leaf.checkIP('127.77.0.5'), undefined);
});

test('GIVEN the clients\' CA file WHEN generated on one host and rendered for a pod THEN the host\'s is the CA derived from the key, and the pod\'s names the Secret key the same value comes from', () => {
  const local = ldapCaFile(spec);
  assert.equal(certificateOf(local).subject, 'CN=mailfleet ldap CA\nO=mailfleet');
  assert.equal(local, `-----BEGIN CERTIFICATE-----\n${ldapCaSecretValue(KEY)}\n-----END CERTIFICATE-----\n`);
  assert.doesNotMatch(local, /PRIVATE KEY/);
  const { spec: redacted, secrets } = redactSpec(spec);
  assert.equal(ldapCaFile(redacted), '-----BEGIN CERTIFICATE-----\n{{mailfleet.secret.ldap-tls-ca}}\n-----END CERTIFICATE-----\n');
  assert.equal(secrets['ldap-tls-ca'], ldapCaSecretValue(KEY), 'the Secret holds the CA beside the key');
  assert.equal(secrets['ldap-tls-ca'], redactSpec(spec).secrets['ldap-tls-ca'], 'the same bytes each time: a rendered Secret stays deterministic');
  assert.doesNotMatch(secrets['ldap-tls-ca'] ?? '', /[\r\n]/, 'one line, as a Secret value must be');
});

test('GIVEN slapd\'s run dir WHEN its ldapi listener is named THEN the socket path is escaped and created for its owner only', () => {
  const inst = { runDir: '/run/mailfleet/ab12/ldap-0' } as InstanceContext;
  assert.equal(ldapiUrl(inst, { listener: true }), 'ldapi://%2Frun%2Fmailfleet%2Fab12%2Fldap-0%2Fldapi/????x-mod=0600');
  assert.equal(ldapiUrl(inst, { listener: false }), 'ldapi://%2Frun%2Fmailfleet%2Fab12%2Fldap-0%2Fldapi');
});
