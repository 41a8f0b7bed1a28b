import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROLLER_RULES } from '../../../../src/runtime/kube/index.ts';
import { OPERATOR_LEASE_NAME, operatorRules, OWNED_KINDS, renderOperatorInstall, RETAINED_KINDS, type Rule } from '../../../../src/runtime/kube/operator/index.ts';

const allowedBy = (rules: Rule[]) => (group: string, resource: string, verb: string) =>
  rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
const allowed = allowedBy(operatorRules());
const groupOf = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.split('/')[0]! : '');
type Deployment = { replicas: number; template: { spec: { serviceAccountName: string; containers: { command: string[]; args: string[] }[] } } };
const argsOf = (objects: ReturnType<typeof renderOperatorInstall>) => (objects.find((o) => o.kind === 'Deployment')!.spec as Deployment).template.spec.containers[0]!.args;

test('GIVEN the default operator install WHEN rendered THEN it is namespaced: Roles and RoleBindings only, no ClusterRole, reconciling the watched namespace', () => {
  const objects = renderOperatorInstall({ namespace: 'ops', watchNamespace: 'tenants' });

  assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`), [
    'CustomResourceDefinition -/mailplatforms.mailfleet.io',
    'ServiceAccount ops/mailfleet-operator',
    'Namespace -/tenants',
    'Role tenants/mailfleet-operator',
    'RoleBinding tenants/mailfleet-operator',
    'Role ops/mailfleet-operator-lease',
    'RoleBinding ops/mailfleet-operator-lease',
    'Deployment ops/mailfleet-operator',
    'PodDisruptionBudget ops/mailfleet-operator',
  ]);
  const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget')!;
  const deployment = objects.find((o) => o.kind === 'Deployment')!;
  assert.deepEqual((pdb.spec as { selector: unknown }).selector, (deployment.spec as { selector: unknown }).selector, 'the budget covers the operator\'s pods');
  assert.deepEqual(argsOf(objects), ['--namespace', 'tenants', '--lease-namespace', 'ops', '--listen', '0.0.0.0:8081']);
  assert.equal(objects.find((o) => o.kind === 'Namespace')!.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged', 'the mail pods\' sysctls need it');
  for (const b of objects.filter((o) => o.kind === 'RoleBinding')) assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'mailfleet-operator', namespace: 'ops' }]);
});

test('GIVEN the namespaced Role WHEN read THEN it grants apply and list on every namespaced owned kind and nothing cluster-scoped', () => {
  const role = renderOperatorInstall({ namespace: 'ops', watchNamespace: 'tenants' }).find((o) => o.kind === 'Role' && o.metadata.namespace === 'tenants')!;
  const can = allowedBy(role.rules as Rule[]);

  for (const k of OWNED_KINDS) {
    for (const verb of ['create', 'patch', 'list']) assert.equal(can(groupOf(k.apiVersion), k.plural, verb), k.namespaced, `${verb} ${k.plural}`);
  }
  assert.ok(can('mailfleet.io', 'mailplatforms/status', 'patch'));
  assert.ok(can('coordination.k8s.io', 'leases', 'update'), 'the backend-sync Lease, in the platform namespace');
});

test('GIVEN the namespaced install WHEN its Role where the operator runs is read THEN it holds only the operator\'s own Lease', () => {
  const role = renderOperatorInstall({ namespace: 'ops', watchNamespace: 'tenants' }).find((o) => o.kind === 'Role' && o.metadata.namespace === 'ops')!;

  assert.deepEqual(role.rules, [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [OPERATOR_LEASE_NAME], verbs: ['get', 'update'] },
  ]);
});

test('GIVEN the installer allows cross-namespace rendering WHEN rendered THEN a ClusterRole is bound and the operator watches every namespace with the opt-in', () => {
  const objects = renderOperatorInstall({ namespace: 'ops', allowCrossNamespace: true, allowedRegistries: ['registry.example.net/mail'], allowedClusterIssuers: ['letsencrypt-dns01'] });

  assert.deepEqual(objects.map((o) => o.kind), ['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget']);
  const deployment = objects[4]!.spec as Deployment;
  assert.equal(deployment.replicas, 2);
  assert.deepEqual(deployment.template.spec.containers[0]!.command, ['mailfleet', 'operator']);
  assert.deepEqual(argsOf(objects), [
    '--all-namespaces', '--allow-cross-namespace', '--allowed-registries', 'registry.example.net/mail', '--allowed-cluster-issuers', 'letsencrypt-dns01', '--listen', '0.0.0.0:8081',
  ]);
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

test('GIVEN the controller Role the operator creates WHEN compared THEN the operator holds every permission it grants, namespaced or not (RBAC escalation check)', () => {
  const namespaced = allowedBy(operatorRules({ namespaced: true }));
  for (const rule of CONTROLLER_RULES) {
    for (const resource of rule.resources) {
      for (const verb of rule.verbs) {
        assert.ok(allowed(rule.apiGroups[0] ?? '', resource, verb), `${verb} ${resource}`);
        assert.ok(namespaced(rule.apiGroups[0] ?? '', resource, verb), `namespaced: ${verb} ${resource}`);
      }
    }
  }
});

test('GIVEN the operator\'s Role and ClusterRole WHEN read THEN cert-manager Certificates may be applied, listed and pruned, and nothing more of cert-manager', () => {
  const namespaced = renderOperatorInstall({ namespace: 'ops', watchNamespace: 'tenants' }).find((o) => o.kind === 'Role' && o.metadata.namespace === 'tenants')!.rules as Rule[];
  const cluster = renderOperatorInstall({ namespace: 'ops', allowCrossNamespace: true }).find((o) => o.kind === 'ClusterRole')!.rules as Rule[];

  for (const rules of [namespaced, cluster]) {
    const certManager = rules.filter((r) => r.apiGroups.includes('cert-manager.io'));
    assert.deepEqual(certManager, [{ apiGroups: ['cert-manager.io'], resources: ['certificates'], verbs: ['create', 'delete', 'list', 'patch'] }]);
  }
});
