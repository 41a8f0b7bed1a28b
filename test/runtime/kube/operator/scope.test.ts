import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform } from '../../../../src/runtime/kube/index.ts';
import { NAMESPACED_SCOPE, scopedSpec, scopeProblems, splitByScope, type OperatorScope } from '../../../../src/runtime/kube/operator/index.ts';
import { validateSpec } from '../../../../src/spec/index.ts';

const EXAMPLE = parse(readFileSync(new URL('../../../../examples/mailfleet.yaml', import.meta.url), 'utf8')) as { spec: Record<string, unknown> };
const CROSS = { allowCrossNamespace: true, allowedRegistries: [], allowedClusterIssuers: ['letsencrypt-dns01'] };
/** The namespaced default, with the example's ClusterIssuer allowed by the installer. */
const NAMESPACED_LE = { ...NAMESPACED_SCOPE, allowedClusterIssuers: ['letsencrypt-dns01'] };

function specWith(kubernetes: Record<string, unknown>): Record<string, unknown> {
  const spec = structuredClone(EXAMPLE.spec);
  spec.kubernetes = { ...(spec.kubernetes as object), ...kubernetes };
  return spec;
}
const docOf = (spec: unknown) => validateSpec({ apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'demo' }, spec });
const problems = (raw: Record<string, unknown>, scope: OperatorScope = NAMESPACED_LE) => scopeProblems(raw, 'tenants', docOf(scopedSpec(raw, 'tenants', scope)), scope);

test('GIVEN a namespaced operator WHEN a MailPlatform leaves the namespace out THEN it renders into its own namespace', () => {
  const doc = docOf(scopedSpec(EXAMPLE.spec, 'tenants', NAMESPACED_SCOPE));

  assert.equal(doc.spec.kubernetes.namespace, 'tenants');
  assert.deepEqual(problems(EXAMPLE.spec), []);
});

test('GIVEN a namespaced operator WHEN a MailPlatform names another namespace THEN it is refused naming spec.kubernetes.namespace; its own namespace is fine', () => {
  assert.match(problems(specWith({ namespace: 'kube-system' })).join(), /^spec\.kubernetes\.namespace: "kube-system" is not the MailPlatform's namespace "tenants"/);
  assert.deepEqual(problems(specWith({ namespace: 'tenants' })), []);
});

test('GIVEN the installer allows cross-namespace rendering WHEN a MailPlatform names another namespace THEN it renders there', () => {
  assert.deepEqual(problems(specWith({ namespace: 'mail' }), CROSS), []);
  assert.equal(docOf(scopedSpec(specWith({ namespace: 'mail' }), 'tenants', CROSS)).spec.kubernetes.namespace, 'mail');
});

test('GIVEN a foreign image registry or third-party image WHEN not allowed by the installer THEN each is refused by field; allowed prefixes pass', () => {
  const raw = specWith({ images: { registry: 'evil.example/mail' }, thirdPartyImages: { loki: 'evil.example/loki:1' } });

  const refused = problems(raw);

  assert.equal(refused.length, 2);
  assert.match(refused[0]!, /^spec\.kubernetes\.images\.registry: "evil\.example\/mail"/);
  assert.match(refused[1]!, /^spec\.kubernetes\.thirdPartyImages\.loki: "evil\.example\/loki:1"/);
  assert.deepEqual(problems(raw, { ...NAMESPACED_LE, allowedRegistries: ['evil.example'] }), []);
  assert.equal(problems(specWith({ images: { registry: 'evil.example-mirror/mail' } }), { ...NAMESPACED_LE, allowedRegistries: ['evil.example'] }).length, 1, 'a prefix ends at a slash');
});

test('GIVEN a namespaced operator WHEN the rendered platform is split THEN the Namespace, IPPools and kube-system objects are left to the installer', () => {
  const doc = docOf(scopedSpec(specWith({ nodeLocalDns: true }), 'tenants', NAMESPACED_SCOPE));

  const { apply, leftToInstaller } = splitByScope(renderPlatform(doc), 'tenants', NAMESPACED_SCOPE);

  assert.ok(apply.every((o) => o.metadata.namespace === 'tenants'));
  assert.ok(leftToInstaller.includes('Namespace tenants'));
  assert.ok(leftToInstaller.some((r) => r.startsWith('IPPool ')));
  assert.ok(leftToInstaller.some((r) => r.startsWith('DaemonSet kube-system/')));
  assert.deepEqual(splitByScope(renderPlatform(doc), 'tenants', CROSS).leftToInstaller, []);
});

const withIssuer = (issuerRef: Record<string, unknown>) => ({ ...structuredClone(EXAMPLE.spec), tls: { kubernetes: { issuerRef } } });

test('GIVEN the installer allows no ClusterIssuer WHEN a MailPlatform names one THEN it is refused naming spec.tls.kubernetes.issuerRef and the flag', () => {
  for (const scope of [NAMESPACED_SCOPE, { ...CROSS, allowedClusterIssuers: [] }]) {
    const refused = problems(withIssuer({ name: 'internal-ca', kind: 'ClusterIssuer' }), scope);

    assert.equal(refused.length, 1);
    assert.match(refused[0]!, /^spec\.tls\.kubernetes\.issuerRef: ClusterIssuer "internal-ca" is not one the operator's installer allows \(none; --allowed-cluster-issuers adds them\)/);
  }
});

test('GIVEN allowed ClusterIssuers WHEN a MailPlatform names one of them, another, or a namespaced Issuer THEN only the other ClusterIssuer is refused', () => {
  const scope = { ...NAMESPACED_SCOPE, allowedClusterIssuers: ['letsencrypt-dns01', 'letsencrypt-staging'] };

  assert.deepEqual(problems(withIssuer({ name: 'letsencrypt-staging', kind: 'ClusterIssuer' }), scope), []);
  assert.deepEqual(problems(withIssuer({ name: 'internal-ca', kind: 'Issuer' }), scope), [], 'an Issuer of the platform\'s own namespace');
  assert.match(problems(withIssuer({ name: 'internal-ca', kind: 'ClusterIssuer' }), scope).join(), /"internal-ca" is not one .* \(letsencrypt-dns01, letsencrypt-staging\)/);
});
