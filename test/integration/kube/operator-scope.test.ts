/**
 * The operator's reach, as its installer decides it, against the in-process API server: by default it is
 * namespaced (its MailPlatforms render into their own namespace, from the default registries), and every
 * request it makes is one the namespaced install's Roles allow.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { createLogger } from '../../../src/log.ts';
import { PLATFORM_LABEL, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { NAMESPACED_SCOPE, renderOperatorInstall, type Rule } from '../../../src/runtime/kube/operator/index.ts';
import { waitFor, type TestCluster } from '../../support/kube/client.ts';
import type { RecordedRequest } from '../../support/kube/api-server.ts';
import { startCluster, startOperator } from '../../support/kube/operator.ts';

const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });
const EXAMPLE = parse(readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8')) as { spec: Record<string, unknown> };
const WATCHED = 'tenants';
const OPERATOR_NS = 'mailfleet-system';
const MP = { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform' };
const DEADLINE_MS = 10_000;
const KINDS: [string, string][] = [
  ['v1', 'Namespace'], ['crd.projectcalico.org/v1', 'IPPool'], ['v1', 'ConfigMap'], ['v1', 'Service'], ['apps/v1', 'StatefulSet'], ['apps/v1', 'Deployment'], ['apps/v1', 'DaemonSet'],
  ['networking.k8s.io/v1', 'NetworkPolicy'], ['rbac.authorization.k8s.io/v1', 'Role'], ['v1', 'ServiceAccount'],
];

interface Condition { type: string; status: string; reason: string; message: string }

/** The namespaced operator as `mailfleet render operator --namespace mailfleet-system --watch-namespace tenants` runs it. */
async function namespacedOperator(t: TestContext) {
  const { cluster, api } = await startCluster(t);
  const firstRequest = cluster.server.requests.length;
  // The example's certificates come from a ClusterIssuer, which the installer allows by name.
  startOperator(t, cluster, { log, namespace: WATCHED, operatorNamespace: OPERATOR_NS, leaseNamespace: OPERATOR_NS, scope: { ...NAMESPACED_SCOPE, allowedClusterIssuers: ['letsencrypt-dns01'] } });
  return { cluster, api, operatorRequests: () => cluster.server.requests.slice(firstRequest) };
}

/** Created straight in the server's store: the only HTTP requests are then the operator's. */
function createPlatform(cluster: TestCluster, kubernetes: Record<string, unknown> = {}): void {
  const spec = structuredClone(EXAMPLE.spec);
  spec.kubernetes = { ...(spec.kubernetes as object), ...kubernetes };
  cluster.server.put({ ...MP, metadata: { name: 'demo', namespace: WATCHED }, spec } as never);
}

const condition = (cluster: TestCluster, type: string): Condition | undefined =>
  ((cluster.server.get(MP.apiVersion, MP.kind, WATCHED, 'demo')?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((c) => c.type === type);
const labelled = (cluster: TestCluster): string[] => KINDS.flatMap(([apiVersion, kind]) => (cluster.server.list(apiVersion, kind) as unknown as KubeObject[])
  .filter((o) => o.metadata.labels?.[PLATFORM_LABEL] === 'demo').map((o) => `${kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`));

for (const [what, kubernetes, field] of [
  ['names another namespace', { namespace: 'kube-system' }, /spec\.kubernetes\.namespace: "kube-system" is not the MailPlatform's namespace "tenants"/],
  ['takes its images from a foreign registry', { images: { registry: 'evil.example/mail' } }, /spec\.kubernetes\.images\.registry: "evil\.example\/mail"/],
] as const) {
  test(`GIVEN a namespaced operator WHEN a MailPlatform ${what} THEN it is Degraded NotAllowed naming the field, and nothing is applied`, async (t) => {
    const { cluster } = await namespacedOperator(t);

    createPlatform(cluster, kubernetes);

    const degraded = await waitFor('NotAllowed', () => {
      const c = condition(cluster, 'Degraded');
      return c?.reason === 'NotAllowed' && c;
    }, DEADLINE_MS);
    assert.equal(degraded.status, 'True');
    assert.match(degraded.message, field);
    assert.deepEqual(labelled(cluster), [], 'no object anywhere');
  });
}

const groupOf = (path: string) => (path.startsWith('/apis/') ? path.split('/')[2] ?? '' : '');
const nameOf = (r: RecordedRequest) => {
  const parts = r.path.split('/');
  return parts[parts.lastIndexOf(r.resource) + 1];
};

function allowedBy(roles: KubeObject[], r: RecordedRequest): boolean {
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return roles.some((role) => role.metadata.namespace === r.namespace && (role.rules as Rule[]).some((rule) =>
    rule.apiGroups.includes(groupOf(r.path)) && rule.resources.includes(resource) && rule.verbs.includes(r.verb)
    && (!rule.resourceNames || rule.resourceNames.includes(nameOf(r) ?? ''))));
}

test('GIVEN a namespaced operator WHEN a MailPlatform leaves the namespace out THEN it renders into its own namespace only, says what it left to the installer, and uses only what the namespaced install grants', async (t) => {
  const { cluster, operatorRequests } = await namespacedOperator(t);

  createPlatform(cluster);

  const reconciled = await waitFor('applied', () => {
    const c = condition(cluster, 'Degraded');
    return c?.reason === 'Reconciled' && cluster.server.get('coordination.k8s.io/v1', 'Lease', WATCHED, 'mailfleet-backend-sync') && c;
  }, DEADLINE_MS);
  const objects = labelled(cluster);
  assert.ok(objects.includes(`StatefulSet ${WATCHED}/mailbox`));
  assert.deepEqual(objects.filter((o) => !o.includes(` ${WATCHED}/`) && !o.startsWith('Secret')), [], 'nothing cluster-scoped, nothing elsewhere');
  assert.match(reconciled.message, /left to the operator's installer .*Namespace tenants.*IPPool demo-mailout-v4/);
  const proxyPolicy = JSON.stringify(cluster.server.get('networking.k8s.io/v1', 'NetworkPolicy', WATCHED, 'demo-proxy')?.spec);
  assert.match(proxyPolicy, /"kubernetes.io\/metadata.name":"mailfleet-system"/, 'the operator\'s backend sync may reach doveadm');

  const roles = renderOperatorInstall({ namespace: OPERATOR_NS, watchNamespace: WATCHED }).filter((o) => o.kind === 'Role');
  const refused = operatorRequests().filter((r) => r.verb !== '' && !allowedBy(roles, r)).map((r) => `${r.verb} ${r.path}`);
  assert.deepEqual([...new Set(refused)], [], 'every request the operator made is one its Roles allow');
  assert.ok(operatorRequests().some((r) => r.verb === 'patch' && r.resource === 'statefulsets'), 'the check saw the applies');
});
