import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROLLER_RULES } from '../../../../src/runtime/kube/index.ts';
import { operatorRules, OWNED_KINDS, renderOperatorInstall, RETAINED_KINDS } from '../../../../src/runtime/kube/operator/index.ts';

const allowed = (group: string, resource: string, verb: string) =>
  operatorRules().some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');

test('GIVEN the operator install WHEN rendered THEN it is the CRD, a ServiceAccount bound to a ClusterRole, and a two-replica Deployment running mailfleet operator', () => {
  const objects = renderOperatorInstall({ namespace: 'ops' });

  assert.deepEqual(objects.map((o) => o.kind), ['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment']);
  const deployment = objects[4]!.spec as { replicas: number; template: { spec: { serviceAccountName: string; containers: { command: string[]; args: string[] }[] } } };
  assert.equal(deployment.replicas, 2);
  assert.deepEqual(deployment.template.spec.containers[0]!.command, ['mailfleet', 'operator']);
  assert.deepEqual((objects[3]!.subjects as { namespace: string }[])[0]!.namespace, 'ops');
});

test('GIVEN the ClusterRole WHEN read THEN it grants apply and list on every owned kind, delete on none of the retained kinds, and no wildcard', () => {
  for (const k of OWNED_KINDS) {
    for (const verb of ['create', 'patch', 'list']) assert.ok(allowed(groupOf(k.apiVersion), k.plural, verb), `${verb} ${k.plural}`);
    assert.equal(allowed(groupOf(k.apiVersion), k.plural, 'delete'), !RETAINED_KINDS.has(k.kind), `delete ${k.plural}`);
  }
  assert.ok(allowed('mailfleet.io', 'mailplatforms/status', 'patch'));
  assert.ok(!allowed('mailfleet.io', 'mailplatforms', 'update'));
  assert.ok(!allowed('', 'configmaps', 'get'), 'nothing is read one by one but Secrets and MailPlatforms');
  assert.ok(operatorRules().every((r) => !r.verbs.includes('*') && !r.resources.includes('*')));
});

test('GIVEN the controller Role the operator creates WHEN compared THEN the operator holds every permission it grants (RBAC escalation check)', () => {
  for (const rule of CONTROLLER_RULES) {
    for (const resource of rule.resources) for (const verb of rule.verbs) assert.ok(allowed(rule.apiGroups[0] ?? '', resource, verb), `${verb} ${resource}`);
  }
});
