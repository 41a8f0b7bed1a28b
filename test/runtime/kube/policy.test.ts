/** The policy server in the Kubernetes output: its Deployment, Service, rules, who may reach it and what it may reach. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { validatePolicyRules } from '../../../src/policy/index.ts';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { parseSpec, validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');

function variant(change: (spec: Record<string, unknown>) => void): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> };
  change(doc.spec);
  return validateSpec(doc);
}

interface Container { command: string[]; args: string[]; ports: { name: string; containerPort: number }[]; resources: object; securityContext: Record<string, unknown>; volumeMounts: { name: string; mountPath: string }[]; livenessProbe: { httpGet: { path: string; port: string } }; readinessProbe: { httpGet: { path: string; port: string } } }
interface Source { secretName?: string; name?: string; items?: { key: string }[] }
interface PodSpec { automountServiceAccountToken: boolean; serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[]; volumes: { name: string; secret?: Source; configMap?: Source }[]; affinity: object; topologySpreadConstraints: object[]; dnsConfig: object }
interface Rule { from?: { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: object }[]; to?: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: string | number }[] }

const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};
const podOf = (objects: KubeObject[]) => {
  const d = find(objects, 'Deployment', 'policy').spec as { replicas: number; strategy: object; template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: PodSpec } };
  return { replicas: d.replicas, strategy: d.strategy, meta: d.template.metadata, spec: d.template.spec, container: d.template.spec.containers[0]! };
};
const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];
const component = (p: { podSelector?: { matchLabels: Record<string, string> } }) => p.podSelector?.matchLabels['app.kubernetes.io/component'];
const configMapFile = (objects: KubeObject[], name: string, file: string) => ((find(objects, 'ConfigMap', name) as KubeObject & { data: Record<string, string> }).data[file] ?? '');

test('GIVEN the example WHEN rendered THEN two policy servers count in kvs-0 with the Redis password file, on the rules of spec.policy', () => {
  const doc = parseSpec(EXAMPLE);
  const objects = renderPlatform(doc);
  const { replicas, strategy, container } = podOf(objects);
  assert.equal(replicas, 2);
  assert.deepEqual(strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  assert.deepEqual(container.command, ['mailfleet', 'policy']);
  const { args } = container;
  assert.equal(flag(args, '--rules'), '/etc/mailfleet/policy/rules.yaml');
  assert.equal(flag(args, '--redis'), 'kvs-0.kvs.mailfleet.svc.cluster.local:6379');
  assert.equal(flag(args, '--redis-password-file'), '/etc/mailfleet/secrets/redis-password');
  assert.deepEqual([flag(args, '--platform'), flag(args, '--deadline-ms'), flag(args, '--listen'), flag(args, '--metrics'), flag(args, '--name')], ['demo', '100', '0.0.0.0:10040', '0.0.0.0:8081', '$(POD_NAME)']);
  assert.deepEqual(container.ports.map((p) => [p.name, p.containerPort]), [['policy', 10040], ['auth-policy', 10041], ['http', 8081]]);
  assert.deepEqual([flag(args, '--auth-listen'), flag(args, '--auth-key-file')], ['0.0.0.0:10041', '/etc/mailfleet/secrets/auth-policy-api-key']);
  assert.deepEqual([container.livenessProbe.httpGet, container.readinessProbe.httpGet], [{ path: '/livez', port: 'http' }, { path: '/readyz', port: 'http' }]);
  const rules = parse(configMapFile(objects, 'demo-policy-rules', 'rules.yaml')) as unknown;
  const { defaultAction, exempt, rules: list, auth } = doc.spec.policy;
  const expected = { defaultAction, exempt, rules: list, auth: { exempt: auth.exempt, rules: auth.rules } };
  assert.deepEqual(validatePolicyRules(rules), expected, 'the file the server reads is spec.policy\'s rules document, auth rules too, without the auth secrets');
});

test('GIVEN the example WHEN rendered THEN the mta and msa configs ask the policy Service, each at the stage its rules count at', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const service = find(objects, 'Service', 'policy').spec as { type: string; ports: { name: string; port: number; targetPort: string }[]; selector: Record<string, string> };
  assert.equal(service.type, 'ClusterIP', 'one address, connections balanced over the replicas');
  assert.deepEqual(service.ports, [{ name: 'policy', port: 10040, targetPort: 'policy', protocol: 'TCP' }, { name: 'auth-policy', port: 10041, targetPort: 'auth-policy', protocol: 'TCP' }]);
  assert.equal(service.selector['app.kubernetes.io/component'], 'policy');
  const check = (role: string) => `check_policy_service { inet:policy.mailfleet.svc.cluster.local:10040, timeout=2s, default_action=DUNNO, try_limit=1, policy_context=${role} }`;
  // Flow control first; the quota check (config/postfix-quota.ts) after it.
  assert.match(configMapFile(objects, 'demo-mta-config', 'main.cf'), new RegExp(`^smtpd_recipient_restrictions = .*, ${check('mta').replace(/[{}.]/g, '\\$&')}, check_policy_service \\{ inet:proxy-quota\\.`, 'm'));
  assert.match(configMapFile(objects, 'demo-msa-config', 'main.cf'), new RegExp(`^smtpd_data_restrictions = ${check('msa').replace(/[{}.]/g, '\\$&')}$`, 'm'));
});

test('GIVEN the example WHEN rendered THEN the policy server runs unprivileged, spread, mounts no token and only the Redis password and the auth policy credential', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const { spec, container, meta } = podOf(objects);
  assert.equal(spec.automountServiceAccountToken, false);
  assert.equal((find(objects, 'ServiceAccount', spec.serviceAccountName) as KubeObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken, false);
  assert.equal(spec.securityContext.runAsNonRoot, true);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
  const secret = spec.volumes.find((v) => v.secret)?.secret;
  assert.deepEqual([secret?.secretName, secret?.items?.map((i) => i.key)], ['demo-secrets', ['redis-password', 'auth-policy-api-key']], 'never the hash nonce');
  assert.deepEqual(container.resources, { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } });
  assert.equal(meta.annotations['prometheus.io/scrape'], 'true');
  assert.equal(meta.annotations['prometheus.io/port'], '8081');
  assert.match(meta.annotations['mailfleet.io/policy-rules-sha256'] ?? '', /^[0-9a-f]{64}$/);
  assert.ok(JSON.stringify(spec.affinity).includes('podAntiAffinity'));
  assert.equal(spec.topologySpreadConstraints.length, 2);
  const budget = find(objects, 'PodDisruptionBudget', 'policy').spec as { maxUnavailable: number };
  assert.equal(budget.maxUnavailable, 1);
});

test('GIVEN other rules WHEN rendered THEN the pods\' rules digest changes, so the Deployment rolls; the same rules give the same digest', () => {
  const digest = (doc: MailPlatform) => podOf(renderPlatform(doc)).meta.annotations['mailfleet.io/policy-rules-sha256'];
  const base = digest(parseSpec(EXAMPLE));
  assert.equal(digest(parseSpec(EXAMPLE)), base);
  assert.notEqual(digest(variant((s) => (s.policy = { rules: [] }))), base);
});

test('GIVEN network policies WHEN rendered THEN only mta and msa reach the policy port, the proxies the auth-policy port and the scrapers http; it reaches only Redis; Redis admits only it and rspamd', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const own = find(objects, 'NetworkPolicy', 'demo-policy').spec as { ingress: Rule[]; egress: Rule[] };
  assert.deepEqual(own.ingress.map((r) => [r.from?.map((p) => component(p) ?? 'monitoring namespaces'), r.ports.map((p) => p.port)]), [
    [['mta', 'msa'], ['policy']],
    [['proxy'], ['auth-policy']],
    [['victoriametrics', 'monitoring namespaces'], ['http']],
  ]);
  assert.deepEqual(own.egress.map((r) => [r.to?.map(component), r.ports.map((p) => p.port)]), [[['kvs'], ['redis']]]);
  const kvs = find(objects, 'NetworkPolicy', 'demo-kvs').spec as { ingress: Rule[] };
  assert.deepEqual(kvs.ingress.filter((r) => r.ports.some((p) => p.port === 'redis')).map((r) => r.from?.map(component)), [['policy'], ['as']]);
  for (const w of ['mta', 'msa']) {
    const egress = (find(objects, 'NetworkPolicy', `demo-${w}`).spec as { egress: Rule[] }).egress.filter((r) => r.to?.some((p) => component(p) === 'policy'));
    assert.deepEqual(egress.map((r) => r.ports.map((p) => p.port)), [['policy']], `${w} may ask the policy server`);
  }
  const proxy = (find(objects, 'NetworkPolicy', 'demo-proxy').spec as { egress: Rule[] }).egress.filter((r) => r.to?.some((p) => component(p) === 'policy'));
  assert.deepEqual(proxy.map((r) => r.ports.map((p) => p.port)), [['auth-policy']], 'the proxies ask it about logins, on that port only');
});

test('GIVEN the example WHEN rendered THEN the proxy Dovecot asks the policy Service about logins over HTTPS with the credential and nonce from the Secret, not failing closed', () => {
  const objects = renderPlatform(parseSpec(EXAMPLE));
  const conf = configMapFile(objects, 'demo-proxy-config', 'dovecot.conf');
  assert.match(conf, /^auth_policy_server_url = https:\/\/policy\.mailfleet\.svc\.cluster\.local:10041\/$/m);
  // The hop's CA, which the proxy's agent writes into its run dir; the policy server's certificate names the Service.
  assert.match(conf, /^ssl_client_ca_file = \/run\/mailfleet\/run\/auth-policy-ca\.pem$/m);
  const { container } = podOf(objects);
  assert.equal(container.args[container.args.indexOf('--auth-tls-name') + 1], 'policy.mailfleet.svc.cluster.local');
  assert.match(conf, /^auth_policy_server_api_header = Authorization: Bearer \{\{mailfleet\.secret\.auth-policy-api-key\}\}$/m);
  assert.match(conf, /^auth_policy_hash_nonce = \{\{mailfleet\.secret\.auth-policy-hash-nonce\}\}$/m);
  assert.match(conf, /^auth_policy_reject_on_fail = no$/m);
  assert.match(conf, /^auth_policy_server_timeout_msecs = 500$/m);
  assert.doesNotMatch(conf, /client_id/, 'the client\'s IMAP ID does not cross the hop');
});

test('GIVEN the auth policy off WHEN rendered THEN the proxies ask nothing, the policy server has no auth port and mounts no credential', () => {
  const objects = renderPlatform(variant((s) => (s.policy = { auth: { enabled: false } })));
  assert.doesNotMatch(configMapFile(objects, 'demo-proxy-config', 'dovecot.conf'), /auth_policy/);
  const { container, spec } = podOf(objects);
  assert.deepEqual(container.ports.map((p) => p.name), ['policy', 'http']);
  assert.ok(!container.args.includes('--auth-listen'));
  assert.deepEqual(spec.volumes.find((v) => v.secret)?.secret?.items?.map((i) => i.key), ['redis-password']);
});

test('GIVEN rules for the mta only WHEN rendered THEN the msa neither asks the policy server nor may reach it', () => {
  const objects = renderPlatform(variant((s) => (s.policy = { rules: [{ name: 'mx', key: 'client_address', count: 'recipients', contexts: ['mta'], windows: [{ limit: 10, seconds: 60 }] }] })));
  assert.doesNotMatch(configMapFile(objects, 'demo-msa-config', 'main.cf'), /check_policy_service/);
  assert.match(configMapFile(objects, 'demo-mta-config', 'main.cf'), /check_policy_service/);
  const msa = (find(objects, 'NetworkPolicy', 'demo-msa').spec as { egress: Rule[] }).egress;
  assert.ok(msa.every((r) => r.to?.every((p) => component(p) !== 'policy')));
});

test('GIVEN the policy server disabled or without replicas WHEN rendered THEN nothing of it is rendered, no config asks it and Redis does not admit it', () => {
  for (const policy of [{ enabled: false }, { replicas: 0 }]) {
    const objects = renderPlatform(variant((s) => (s.policy = policy)));
    assert.ok(!objects.some((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'policy'), JSON.stringify(policy));
    for (const w of ['mta', 'msa']) assert.doesNotMatch(configMapFile(objects, `demo-${w}-config`, 'main.cf'), /check_policy_service { inet:policy/);
    assert.doesNotMatch(configMapFile(objects, 'demo-spec', 'peers.json'), /policy/);
    const kvs = find(objects, 'NetworkPolicy', 'demo-kvs').spec as { ingress: Rule[] };
    assert.ok(kvs.ingress.every((r) => !r.from?.some((p) => component(p) === 'policy')));
  }
});
