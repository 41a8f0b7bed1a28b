import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateObjects } from '../support/kube/openapi.ts';

type Obj = Record<string, unknown>;

const LABELS = { 'app.kubernetes.io/name': 'mailfleet', 'app.kubernetes.io/component': 'mailbox' };
const meta = (name: string, namespace?: string): Obj => ({ name, ...(namespace === undefined ? {} : { namespace }), labels: { ...LABELS } });

function statefulSet(): Obj & { spec: Obj & { template: Obj & { spec: Obj & { containers: Obj[] } } } } {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta('mailbox', 'mail'),
    spec: {
      replicas: 3,
      serviceName: 'mailbox',
      selector: { matchLabels: { ...LABELS } },
      template: {
        metadata: { labels: { ...LABELS }, annotations: { 'mailfleet.io/config-hash': 'abc' } },
        spec: {
          containers: [{
            name: 'dovecot',
            image: 'registry.example/mailfleet:0.1.0',
            args: ['agent', '--role', 'mailbox'],
            ports: [{ name: 'lmtp', containerPort: 24 }, { name: 'imap', containerPort: 143 }],
            readinessProbe: { httpGet: { path: '/readyz', port: 8081 } },
            livenessProbe: { httpGet: { path: '/livez', port: 'health' } },
            resources: { requests: { cpu: '100m', memory: '128Mi' } },
            volumeMounts: [{ name: 'mail', mountPath: '/var/mail' }],
          }],
          volumes: [{ name: 'mail', persistentVolumeClaim: { claimName: 'mail' } }],
        },
      },
    },
  };
}

const service = (): Obj => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: meta('mailbox', 'mail'),
  spec: { clusterIP: 'None', selector: { ...LABELS }, ports: [{ name: 'lmtp', port: 24, targetPort: 'lmtp', protocol: 'TCP' }] },
});

const networkPolicy = (): Obj => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('mailbox', 'mail'),
  spec: {
    podSelector: { matchLabels: { ...LABELS } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'proxy' } } }], ports: [{ protocol: 'TCP', port: 24 }] }],
  },
});

const podDisruptionBudget = (): Obj => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: meta('mailbox', 'mail'),
  spec: { maxUnavailable: 1, selector: { matchLabels: { ...LABELS } } },
});

function serviceMonitor(): Obj & { spec: Obj & { endpoints: Obj[] } } {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta('mailbox', 'mail'),
    spec: { selector: { matchLabels: { ...LABELS } }, endpoints: [{ port: 'health', path: '/metrics', interval: '30s' }] },
  };
}

/** A CRD for a small custom kind using the OpenAPI subset Kubernetes accepts, extensions included. */
function widgetCrd(): Obj {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.io' },
    spec: {
      group: 'example.io',
      scope: 'Namespaced',
      names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
      versions: [{
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            description: 'A widget.',
            properties: {
              spec: {
                type: 'object',
                required: ['size', 'mode'],
                properties: {
                  size: { type: 'integer', minimum: 1, description: 'How big.' },
                  mode: { type: 'string', enum: ['fast', 'safe'], default: 'safe' },
                  port: { 'x-kubernetes-int-or-string': true },
                  note: { type: 'string', nullable: true },
                  tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  limits: { type: 'object', additionalProperties: { type: 'string' } },
                },
              },
            },
          },
        },
      }],
    },
  };
}

const widget = (spec: Obj): Obj => ({ apiVersion: 'example.io/v1', kind: 'Widget', metadata: meta('w', 'mail'), spec });

test('GIVEN a valid StatefulSet, Service, NetworkPolicy, PodDisruptionBudget and ServiceMonitor WHEN validated THEN all five are ok', async () => {
  const report = await validateObjects([statefulSet(), service(), networkPolicy(), podDisruptionBudget(), serviceMonitor()]);
  assert.deepEqual(report, { ok: 5, problems: [], unchecked: [] });
});

test('GIVEN a StatefulSet with spec.replica instead of spec.replicas WHEN validated THEN the misspelt field is reported as unknown', async () => {
  const sts = statefulSet();
  sts.spec.replica = 3;
  const report = await validateObjects([sts]);
  assert.deepEqual(report, { ok: 0, problems: ['StatefulSet/mail/mailbox: spec.replica: unknown field'], unchecked: [] });
});

test('GIVEN a StatefulSet with replicas as the string "3" WHEN validated THEN the type error names the path and the value', async () => {
  const sts = statefulSet();
  sts.spec.replicas = '3';
  const report = await validateObjects([sts]);
  assert.deepEqual(report.problems, ['StatefulSet/mail/mailbox: spec.replicas: must be integer, got string "3"']);
});

test('GIVEN a container without a name WHEN validated THEN the missing required field is reported at its path', async () => {
  const sts = statefulSet();
  delete sts.spec.template.spec.containers[0]!.name;
  const report = await validateObjects([sts]);
  assert.deepEqual(report.problems, ['StatefulSet/mail/mailbox: spec.template.spec.containers[0].name: required field missing']);
});

test('GIVEN unknown fields deep in a pod template and in metadata WHEN validated THEN each is reported, and map keys are not', async () => {
  const sts = statefulSet();
  const container = sts.spec.template.spec.containers[0]!;
  (container.ports as Obj[])[1]!.nme = 'imap';
  container.resources = { requests: { cpu: '100m' }, limit: { cpu: '1' } };
  (sts.metadata as Obj).label = { a: 'b' };
  const report = await validateObjects([sts]);
  assert.deepEqual(report.problems, [
    'StatefulSet/mail/mailbox: metadata.label: unknown field',
    'StatefulSet/mail/mailbox: spec.template.spec.containers[0].ports[1].nme: unknown field',
    'StatefulSet/mail/mailbox: spec.template.spec.containers[0].resources.limit: unknown field',
  ]);
});

test('GIVEN a ServiceMonitor with a numeric port, a misspelt interval and no selector WHEN validated THEN each problem is reported once', async () => {
  const monitor = serviceMonitor();
  const endpoint = monitor.spec.endpoints[0]!;
  endpoint.port = 8081;
  delete endpoint.interval;
  endpoint.intervall = '30s';
  delete monitor.spec.selector;
  const report = await validateObjects([monitor]);
  assert.deepEqual(report.problems, [
    'ServiceMonitor/mail/mailbox: spec.selector: required field missing',
    'ServiceMonitor/mail/mailbox: spec.endpoints[0].port: must be string, got number 8081',
    'ServiceMonitor/mail/mailbox: spec.endpoints[0].intervall: unknown field',
  ]);
});

test('GIVEN a custom object valid under its CRD (defaults, nullable, int-or-string, preserved and map fields) WHEN validated THEN all three are ok', async () => {
  const objects = [
    widgetCrd(),
    widget({ size: 2, port: 'smtp', note: null, tags: ['a'], extra: { anything: { goes: [1] } }, limits: { cpu: '1' } }),
    widget({ size: 1, mode: 'fast', port: 25 }),
  ];
  const report = await validateObjects(objects);
  assert.deepEqual(report, { ok: 3, problems: [], unchecked: [] });
});

test('GIVEN a custom object violating its CRD schema WHEN validated THEN each violation names its path', async () => {
  const report = await validateObjects([
    widgetCrd(),
    widget({ size: 'big', mode: 'quick', port: true, sise: 2, tags: 'a' }),
    { ...widget({ size: 1 }), metadata: { name: 'w2', namespace: 'mail', lables: {} } },
  ]);
  assert.equal(report.ok, 1);
  assert.deepEqual(report.problems, [
    'Widget/mail/w: spec.sise: unknown field',
    'Widget/mail/w: spec.size: must be integer, got string "big"',
    'Widget/mail/w: spec.mode: must be one of "fast", "safe", got string "quick"',
    'Widget/mail/w: spec.port: must be integer or string, got boolean true',
    'Widget/mail/w: spec.tags: must be array, got string "a"',
    'Widget/mail/w2: metadata.lables: unknown field',
  ]);
});

test('GIVEN a custom object of a version its CRD does not serve WHEN validated THEN the apiVersion is the problem', async () => {
  const report = await validateObjects([widgetCrd(), { ...widget({ size: 1 }), apiVersion: 'example.io/v2' }]);
  assert.deepEqual(report.problems, ['Widget/mail/w: apiVersion: version v2 is not served by CustomResourceDefinition widgets.example.io (served: v1)']);
});

test('GIVEN a CRD whose schema is not structural or misspells an extension WHEN validated THEN the API server\'s objections are reported', async () => {
  const crd = widgetCrd() as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, Obj> } } } } }[] } };
  const fields = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties;
  fields.untyped = { description: 'no type' };
  fields.closed = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false };
  fields.extra = { type: 'object', 'x-kubernetes-preserve-unknown-field': true };
  const report = await validateObjects([crd]);
  const at = 'CustomResourceDefinition/widgets.example.io: spec.versions[0].schema.openAPIV3Schema.properties.spec.properties';
  assert.deepEqual(report.problems, [
    `${at}.closed.additionalProperties: must be object, got boolean false`,
    `${at}.extra.x-kubernetes-preserve-unknown-field: unknown field`,
    `${at}.untyped.type: must be set in a structural schema`,
    `${at}.closed.additionalProperties: must not be false in a v1 CustomResourceDefinition`,
    `${at}.closed.additionalProperties: must not be set together with properties`,
  ]);
});

test('GIVEN kinds no schema package serves and no CRD defines WHEN validated THEN they are unchecked, not ok', async () => {
  const report = await validateObjects([
    { apiVersion: 'crd.projectcalico.org/v1', kind: 'IPPool', metadata: { name: 'mailout-v4' }, spec: { cidr: '192.0.2.0/28' } },
    { apiVersion: 'operator.victoriametrics.com/v1beta1', kind: 'VMPodScrape', metadata: meta('agents', 'mail'), spec: {} },
  ]);
  assert.deepEqual(report, {
    ok: 0,
    problems: [],
    unchecked: ['IPPool/mailout-v4 (crd.projectcalico.org/v1)', 'VMPodScrape/mail/agents (operator.victoriametrics.com/v1beta1)'],
  });
});

test('GIVEN a misspelt kind in a built-in group and an object without a name WHEN validated THEN both are problems, not unchecked', async () => {
  const report = await validateObjects([
    { apiVersion: 'apps/v1', kind: 'StatefulSett', metadata: meta('mailbox', 'mail') },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'mail' }, data: {} },
  ]);
  assert.deepEqual(report, {
    ok: 0,
    problems: ['StatefulSett/mail/mailbox: kind: apps/v1 has no kind StatefulSett', 'ConfigMap/mail/(no name): metadata.name: required field missing'],
    unchecked: [],
  });
});

/** One minimal valid object of every kind the renderer may emit. */
const EVERY_KIND: Obj[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: meta('mail') },
  { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('c', 'mail'), data: { 'main.cf': 'x' } },
  { apiVersion: 'v1', kind: 'Secret', metadata: meta('s', 'mail'), type: 'Opaque', stringData: { password: 'x' } },
  service(),
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('sa', 'mail') },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta('mail', 'mail'), spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } } },
  statefulSet(),
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('d', 'mail'), spec: { selector: { matchLabels: LABELS }, template: { metadata: { labels: LABELS }, spec: { containers: [{ name: 'c', image: 'i' }] } } } },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('ds', 'mail'), spec: { selector: { matchLabels: LABELS }, template: { metadata: { labels: LABELS }, spec: { containers: [{ name: 'c', image: 'i' }] } } } },
  podDisruptionBudget(),
  networkPolicy(),
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta('r', 'mail'), rules: [{ apiGroups: [''], resources: ['endpoints'], verbs: ['get'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta('rb', 'mail'), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' }, subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'mail' }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta('cr'), rules: [{ apiGroups: ['mailfleet.io'], resources: ['mailplatforms'], verbs: ['list'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta('crb'), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cr' }, subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'mail' }] },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: meta('l', 'mail'), spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
  { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: meta('sc'), provisioner: 'example.io/nfs', reclaimPolicy: 'Retain' },
  widgetCrd(),
  serviceMonitor(),
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor', metadata: meta('pm', 'mail'), spec: { selector: { matchLabels: LABELS }, podMetricsEndpoints: [{ port: 'health' }] } },
];

test('GIVEN one valid object of every kind the renderer emits WHEN validated THEN each is checked against a schema and ok', async () => {
  const report = await validateObjects(EVERY_KIND);
  assert.deepEqual(report, { ok: EVERY_KIND.length, problems: [], unchecked: [] });
});

test('GIVEN an unknown top-level field in an object of every kind WHEN validated THEN each kind reports it', async () => {
  const report = await validateObjects(EVERY_KIND.map((obj) => ({ ...obj, bogus: true })));
  assert.equal(report.ok, 0);
  assert.equal(report.problems.length, EVERY_KIND.length);
  for (const line of report.problems) assert.match(line, /^[A-Za-z]+\/[^:]+: bogus: unknown field$/);
});

test('GIVEN objects WHEN validated THEN they are left unchanged, defaults included', async () => {
  const objects = [widgetCrd(), widget({ size: 1 }), statefulSet()];
  const before = structuredClone(objects);
  await validateObjects(objects);
  assert.deepEqual(objects, before);
});
