import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { PLATFORM_LABEL, renderPlatform, type KubeObject } from '../../../../src/runtime/kube/index.ts';
import { FIELD_MANAGER, OWNED_KINDS, OWNER_ANNOTATION, planDeletion, planReconcile, platformSecretPlan, RETAINED_KINDS } from '../../../../src/runtime/kube/operator/index.ts';
import { validateSpec, type MailPlatform } from '../../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../../examples/mailfleet.yaml', import.meta.url), 'utf8');
const OWNER = 'tenants/demo';

function variant(change: (spec: Record<string, Record<string, unknown>>) => void = () => undefined): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, Record<string, unknown>> };
  doc.spec.kubernetes ??= {};
  doc.spec.outbound ??= {};
  change(doc.spec);
  return validateSpec(doc);
}

/** An object as the server would list it after the operator applied it. */
function applied(obj: KubeObject, owner = OWNER, manager = FIELD_MANAGER): KubeObject {
  return {
    ...obj,
    metadata: {
      ...obj.metadata,
      annotations: { ...obj.metadata.annotations, [OWNER_ANNOTATION]: owner },
      uid: `uid-${obj.kind}-${obj.metadata.name}`,
      managedFields: [{ manager, operation: 'Apply', apiVersion: obj.apiVersion, fieldsType: 'FieldsV1', fieldsV1: {} }],
    } as KubeObject['metadata'],
  };
}

const names = (refs: { kind: string; name: string }[]) => refs.map((r) => `${r.kind}/${r.name}`);

test('GIVEN every spec variant WHEN rendered THEN each kind is one the operator lists for pruning', () => {
  const variants = [
    variant(),
    variant((s) => (s.kubernetes!.scrape = 'ServiceMonitor')),
    variant((s) => (s.kubernetes!.scrape = 'annotations')),
    variant((s) => (s.kubernetes!.networkPolicies = false)),
    variant((s) => (s.outbound = { mailout: { replicas: 1, ipv6Cidr: '2001:db8::/120' }, fallback: { replicas: 1 } })),
    variant((s) => (s.kubernetes!.existingSecret = 'keys')),
  ];
  const listed = new Set(OWNED_KINDS.map((k) => `${k.apiVersion} ${k.kind}`));
  for (const doc of variants) for (const o of renderPlatform(doc)) assert.ok(listed.has(`${o.apiVersion} ${o.kind}`), `${o.apiVersion} ${o.kind} is listed`);
});

test('GIVEN nothing in the cluster WHEN planned THEN every rendered object is applied, with the owner annotation, in render order', () => {
  const desired = renderPlatform(variant());

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired, actual: [] });

  assert.deepEqual(plan.apply.map((o) => `${o.kind}/${o.metadata.name}`), desired.map((o) => `${o.kind}/${o.metadata.name}`));
  assert.ok(plan.apply.every((o) => o.metadata.annotations?.[OWNER_ANNOTATION] === OWNER));
  assert.deepEqual([plan.prune, plan.retained, plan.conflicts], [[], [], []]);
});

test('GIVEN the outbound pools applied earlier WHEN they are disabled THEN exactly their objects are pruned, workloads before their configs', () => {
  const before = renderPlatform(variant());
  const after = renderPlatform(variant((s) => (s.outbound = { mailout: { replicas: 0 }, fallback: { replicas: 0 } })));

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired: after, actual: before.map((o) => applied(o)) });

  const pruned = names(plan.prune);
  for (const gone of ['StatefulSet/mailout', 'StatefulSet/fallback', 'Service/mailout', 'ConfigMap/demo-mailout-config', 'IPPool/demo-mailout-v4', 'IPPool/demo-fallback-v4', 'NetworkPolicy/demo-mailout']) {
    assert.ok(pruned.includes(gone), `${gone} is pruned`);
  }
  assert.ok(pruned.indexOf('StatefulSet/mailout') < pruned.indexOf('ConfigMap/demo-mailout-config'));
  assert.equal(plan.prune.length, before.length - after.length);
  assert.ok(plan.prune.every((r) => r.uid?.startsWith('uid-')), 'deletes carry the uid seen');
});

test('GIVEN stale objects not applied by the operator, of another owner, or of a retained kind WHEN planned THEN none is pruned', () => {
  const desired = renderPlatform(variant());
  const mailout = desired.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'mailout')!;
  const stale = [
    applied({ ...mailout, metadata: { ...mailout.metadata, name: 'by-hand' } }, OWNER, 'kubectl'),
    applied({ ...mailout, metadata: { ...mailout.metadata, name: 'other-owner' } }, 'elsewhere/demo'),
    applied({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'old-mail', namespace: 'mailfleet', labels: { [PLATFORM_LABEL]: 'demo' } } }),
    applied({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'old-ns', labels: { [PLATFORM_LABEL]: 'demo' } } }),
  ];

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired, actual: stale });

  assert.deepEqual(plan.prune, []);
  assert.deepEqual(names(plan.retained).sort(), ['Namespace/old-ns', 'PersistentVolumeClaim/old-mail']);
  assert.ok([...RETAINED_KINDS].includes('PersistentVolumeClaim'));
});

test('GIVEN a rendered object that exists for another MailPlatform WHEN planned THEN it is a conflict naming that platform', () => {
  const desired = renderPlatform(variant());
  const mta = desired.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'mta')!;

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired, actual: [applied(mta, 'other-tenant/demo')] });

  assert.deepEqual(plan.conflicts.map((c) => [`${c.ref.kind}/${c.ref.name}`, c.heldBy]), [['StatefulSet/mta', 'other-tenant/demo']]);
});

test('GIVEN an object of this platform applied by hand without the owner annotation WHEN planned THEN it is adopted, not a conflict', () => {
  const desired = renderPlatform(variant());
  const byHand = desired.find((o) => o.kind === 'ConfigMap')!;

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired, actual: [byHand] });

  assert.deepEqual(plan.conflicts, []);
});

test('GIVEN a platform being deleted WHEN planned THEN everything it owns goes but namespaces and volume claims, and nothing of others', () => {
  const objects = renderPlatform(variant()).map((o) => applied(o));
  const foreign = applied({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'mailfleet', labels: { [PLATFORM_LABEL]: 'demo' } } }, 'other/demo');

  const { prune, retained } = planDeletion({ owner: OWNER, platform: 'demo', actual: [...objects, foreign] });

  assert.equal(prune.length + retained.length, objects.length);
  assert.deepEqual([...new Set(retained.map((r) => r.kind))].sort(), ['Namespace', 'PersistentVolumeClaim']);
  assert.ok(!names(prune).includes('ConfigMap/x'));
});

test('GIVEN a Secret the operator applied from spec secrets WHEN the spec drops them (the Secret is now kept outside the render) THEN it is not pruned', () => {
  const inline = variant((s) => {
    s.ldap = { ...s.ldap, adminPassword: 'inline-admin-secret-0123', readerPassword: 'inline-reader-secret-0123', authPassword: 'inline-auth-secret-0123', tlsKey: 'inline-ldap-tls-key-0123' };
    s.director = { apiKey: 'inline-doveadm-key-0123456789', backendLoginPassword: 'inline-backend-login-0123456', authRelayKey: 'inline-auth-relay-key-012345', backendTlsKey: 'inline-backend-tls-key-01234' };
    s.probe = { password: 'inline-probe-password-0123' };
    s.redis = { password: 'inline-redis-password-0123456' };
    s.filter = { ...s.filter!, controllerPassword: 'inline-rspamd-password-0123456' };
    s.alerting = { ...s.alerting, adminKey: 'inline-metrics-admin-key-0123456' };
    s.policy = { ...s.policy, auth: { apiKey: 'inline-auth-policy-key-0123456', hashNonce: 'inline-auth-policy-nonce-01234' } };
    s.kubernetes!.existingSecret = '';
  });
  const before = renderPlatform(inline);
  assert.ok(before.some((o) => o.kind === 'Secret' && o.metadata.name === 'demo-secrets'));
  const secret = platformSecretPlan(variant((s) => (s.kubernetes!.existingSecret = '')));
  assert.deepEqual(secret.external && names([secret.external]), ['Secret/demo-secrets']);

  const plan = planReconcile({ owner: OWNER, platform: 'demo', desired: renderPlatform(secret.doc), actual: before.map((o) => applied(o)), retain: [secret.external!] });

  assert.ok(!names(plan.prune).includes('Secret/demo-secrets'), 'the platform Secret stays');
  assert.ok(!renderPlatform(secret.doc).some((o) => o.kind === 'Secret'), 'and is not rendered');
});
