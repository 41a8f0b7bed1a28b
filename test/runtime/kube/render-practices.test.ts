import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderPlatform, toYaml, renderPlatformDocuments, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { POD_PATHS } from '../../../src/agent/index.ts';
import { isMailfleetError } from '../../../src/errors.ts';
import { parseSpec, validateSpec, type MailPlatform } from '../../../src/spec/index.ts';

const EXAMPLE = readFileSync(new URL('../../../examples/mailfleet.yaml', import.meta.url), 'utf8');
const example = parseSpec(EXAMPLE);

/** The example with some fields changed (the spec is frozen: change a parsed copy and validate again). */
function variant(change: (doc: { spec: Record<string, unknown> & { kubernetes: Record<string, unknown>; loadBalancer: Record<string, unknown> } }) => void): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> & { kubernetes: Record<string, unknown>; loadBalancer: Record<string, unknown> } };
  doc.spec.kubernetes ??= {};
  doc.spec.loadBalancer ??= {};
  change(doc);
  return validateSpec(doc);
}

type Pod = { metadata?: { annotations?: Record<string, string> }; spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };

function podTemplates(objects: KubeObject[]): { owner: KubeObject; pod: Pod }[] {
  return objects
    .filter((o) => ['StatefulSet', 'Deployment', 'DaemonSet'].includes(o.kind))
    .map((o) => ({ owner: o, pod: (o.spec as { template: Pod }).template }));
}

const byKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const find = (objects: KubeObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is rendered`);
  return o;
};

test('GIVEN the example spec WHEN rendered twice THEN the bytes are identical and every document starts apiVersion, kind, metadata', () => {
  const a = toYaml(renderPlatformDocuments(example));
  const b = toYaml(renderPlatformDocuments(parseSpec(EXAMPLE)));
  assert.equal(a, b);
  for (const doc of a.split(/^---\n/m).slice(1)) {
    const keys = doc.split('\n').filter((l) => /^[a-zA-Z]/.test(l)).map((l) => l.split(':')[0]);
    assert.deepEqual(keys.slice(0, 3), ['apiVersion', 'kind', 'metadata'], doc.slice(0, 200));
    const rest = keys.slice(3);
    assert.deepEqual(rest, [...rest].sort(), 'the other top-level keys are sorted');
  }
});

test('GIVEN the example WHEN rendered THEN stateful roles are StatefulSets with headless Services and the mailbox storage is one ReadWriteMany claim', () => {
  const objects = renderPlatform(example);
  for (const role of ['mta', 'msa', 'mailout', 'fallback', 'proxy', 'mailbox', 'ldap', 'kvs']) {
    const sts = find(objects, 'StatefulSet', role);
    assert.equal((sts.spec as { serviceName: string }).serviceName, role);
    assert.equal((find(objects, 'Service', role).spec as { clusterIP: string }).clusterIP, 'None');
  }
  const claim = find(objects, 'PersistentVolumeClaim', 'demo-mail-storage');
  assert.deepEqual((claim.spec as { accessModes: string[] }).accessModes, ['ReadWriteMany']);
  const mailbox = find(objects, 'StatefulSet', 'mailbox').spec as { template: Pod };
  const volumes = mailbox.template.spec.volumes as { name: string; persistentVolumeClaim?: { claimName: string } }[];
  assert.equal(volumes.find((v) => v.name === 'mail')?.persistentVolumeClaim?.claimName, 'demo-mail-storage');
  const mta = find(objects, 'StatefulSet', 'mta').spec as { volumeClaimTemplates: { spec: { accessModes: string[]; storageClassName: string } }[] };
  assert.deepEqual(mta.volumeClaimTemplates[0]?.spec.accessModes, ['ReadWriteOnce'], 'each mta pod has its own queue');
  assert.equal(mta.volumeClaimTemplates[0]?.spec.storageClassName, example.spec.kubernetes.storageClasses.mta);
  assert.deepEqual(byKind(objects, 'Deployment').map((d) => d.metadata.name).sort(), ['as', 'demo-controller', 'policy', 'probe', 'vmalert'], 'the stateless parts are Deployments');
  assert.deepEqual(byKind(objects, 'DaemonSet').map((d) => d.metadata.name).sort(), ['promtail'], 'per-node parts are DaemonSets');
});

test('GIVEN spec.kubernetes.nodeLocalDns WHEN rendered THEN node-local-dns and its unbound land in kube-system, unbound\'s caches sized to its memory limit; off by default, nothing there', () => {
  const inKubeSystem = (objects: KubeObject[]) => objects.filter((o) => o.metadata.namespace === 'kube-system').map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(inKubeSystem(renderPlatform(example)), [], 'a cluster add-on only when asked for');
  const objects = renderPlatform(variant((d) => {
    d.spec.kubernetes.nodeLocalDns = true;
    d.spec.kubernetes.resources = { unbound: { limits: { memory: '1Gi' } } };
  }));
  assert.deepEqual(inKubeSystem(objects), [
    'ConfigMap/demo-node-local-dns', 'ConfigMap/demo-unbound', 'DaemonSet/demo-node-local-dns', 'Deployment/demo-unbound',
    'PodDisruptionBudget/demo-unbound', 'Service/demo-kube-dns-upstream', 'Service/demo-unbound',
  ]);
  const conf = Object.values((find(objects, 'ConfigMap', 'demo-unbound') as unknown as { data: Record<string, string> }).data).join('\n');
  // (1024 - 64) / 9: the caches and unbound's overhead on them stay well inside the limit.
  assert.match(conf, /msg-cache-size: 106m/);
  assert.match(conf, /rrset-cache-size: 212m/);
});

test('GIVEN every pod template WHEN inspected THEN it has ndots:1, requests and limits, agent probes and a drain hook within its grace period', () => {
  const objects = renderPlatform(example);
  const templates = podTemplates(objects);
  assert.ok(templates.length >= 9);
  for (const { owner, pod } of templates) {
    const where = `${owner.kind}/${owner.metadata.name}`;
    // node-local-dns is the node's resolver itself: host network, the node's resolv.conf.
    if (pod.spec.hostNetwork) assert.equal(pod.spec.dnsPolicy, 'Default', where);
    else assert.deepEqual(pod.spec.dnsConfig, { options: [{ name: 'ndots', value: '1' }] }, where);
    for (const c of pod.spec.containers) {
      const r = c.resources as { requests?: Record<string, string>; limits?: Record<string, string> };
      assert.ok(r.requests?.cpu && r.requests.memory && r.limits?.cpu && r.limits.memory, `${where}: requests and limits`);
      assert.ok(c.livenessProbe, `${where}: liveness probe`);
      const agentRun = (c.args as string[] | undefined)?.[0] === '--pod' || owner.metadata.name === 'demo-controller';
      if (!agentRun) continue;
      assert.equal((c.livenessProbe as { httpGet: { path: string } }).httpGet.path, '/livez', where);
      assert.equal((c.readinessProbe as { httpGet: { path: string } }).httpGet.path, '/readyz', where);
    }
  }
  for (const sts of byKind(objects, 'StatefulSet').filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === o.metadata.name && !['victoriametrics', 'alertmanager', 'loki'].includes(o.metadata.name))) {
    const pod = (sts.spec as { template: Pod }).template;
    const [c] = pod.spec.containers;
    assert.deepEqual((c?.lifecycle as { preStop: { exec: { command: string[] } } }).preStop.exec.command.slice(0, 3), ['mailfleet', 'agent', 'drain']);
    assert.ok((pod.spec.terminationGracePeriodSeconds as number) > example.spec.drainSeconds, 'grace period exceeds the drain budget');
    assert.deepEqual((c?.args as string[]).slice(0, 3), ['--pod', '--role', sts.metadata.name]);
  }
});

test('GIVEN the example WHEN rendered THEN every agent\'s preStop drains on the control socket in its run volume, never over the HTTP port', () => {
  const objects = renderPlatform(example);
  const agents = podTemplates(objects).filter(({ pod }) => (pod.spec.containers[0]?.args as string[] | undefined)?.[0] === '--pod');
  assert.ok(agents.length >= 8);
  for (const { owner, pod } of agents) {
    const where = `${owner.kind}/${owner.metadata.name}`;
    const [c] = pod.spec.containers;
    const hook = (c?.lifecycle as { preStop: { exec: { command: string[] } } }).preStop.exec.command;
    assert.deepEqual(hook, ['mailfleet', 'agent', 'drain', '--socket', POD_PATHS.agentSocket], where);
    assert.ok(!hook.some((word) => /^https?:|8081/.test(word)), `${where}: the hook reaches the agent over HTTP`);
    const mounts = c?.volumeMounts as { name: string; mountPath: string }[];
    const run = mounts.find((m) => m.mountPath === POD_PATHS.run);
    assert.ok(run && POD_PATHS.agentSocket.startsWith(`${run.mountPath}/`), `${where}: the socket lies in the run volume`);
    const volume = (pod.spec.volumes as { name: string; emptyDir?: object }[]).find((v) => v.name === run.name);
    assert.ok(volume?.emptyDir, `${where}: the run volume is the pod's own emptyDir, shared with no other pod`);
  }
});

test('GIVEN the example WHEN rendered THEN mta and mailbox keep apart (preferred, or required when the spec says) and every role spreads over nodes and the rack label', () => {
  type AntiAffinity = {
    preferredDuringSchedulingIgnoredDuringExecution: { weight: number; podAffinityTerm: { labelSelector: { matchLabels: Record<string, string> }; topologyKey: string } }[];
    requiredDuringSchedulingIgnoredDuringExecution?: { labelSelector: { matchLabels: Record<string, string> }; topologyKey: string }[];
  };
  const antiAffinity = (objects: KubeObject[], name: string) =>
    ((find(objects, 'StatefulSet', name).spec as { template: Pod }).template.spec.affinity as { podAntiAffinity: AntiAffinity }).podAntiAffinity;
  const component = (t: { labelSelector: { matchLabels: Record<string, string> } }) => t.labelSelector.matchLabels['app.kubernetes.io/component'];
  const objects = renderPlatform(parseSpec(EXAMPLE));
  for (const [name, other] of [['mta', 'mailbox'], ['mailbox', 'mta']] as const) {
    const a = antiAffinity(objects, name);
    assert.equal(a.requiredDuringSchedulingIgnoredDuringExecution, undefined, `${name}: nothing required by default`);
    assert.deepEqual(a.preferredDuringSchedulingIgnoredDuringExecution.map((p) => component(p.podAffinityTerm)), [name, other]);
    assert.ok(a.preferredDuringSchedulingIgnoredDuringExecution.every((p) => p.podAffinityTerm.topologyKey === 'kubernetes.io/hostname'));
  }
  const strict = renderPlatform(variant((d) => (d.spec.kubernetes.mtaMailboxSeparation = 'required')));
  for (const [name, other] of [['mta', 'mailbox'], ['mailbox', 'mta']] as const) {
    const a = antiAffinity(strict, name);
    assert.deepEqual(a.requiredDuringSchedulingIgnoredDuringExecution?.map(component), [other]);
    assert.deepEqual(a.preferredDuringSchedulingIgnoredDuringExecution.map((p) => component(p.podAffinityTerm)), [name]);
  }
  assert.equal(antiAffinity(strict, 'proxy').requiredDuringSchedulingIgnoredDuringExecution, undefined);
  const racked = variant((d) => (d.spec.kubernetes.rackLabel = 'example.net/rack'));
  const keys = ((find(renderPlatform(racked), 'StatefulSet', 'proxy').spec as { template: Pod }).template.spec.topologySpreadConstraints as { topologyKey: string }[]).map((t) => t.topologyKey);
  assert.deepEqual(keys, ['kubernetes.io/hostname', 'example.net/rack']);
});

test('GIVEN unsafe sysctls on a pod WHEN rendered THEN the pod names them for kubelet and the document says so', () => {
  const docs = renderPlatformDocuments(example);
  const mta = docs.find((d) => d.object.kind === 'StatefulSet' && d.object.metadata.name === 'mta');
  assert.ok(mta);
  const pod = (mta.object.spec as { template: Pod }).template;
  const sysctls = (pod.spec.securityContext as { sysctls: { name: string }[] }).sysctls.map((s) => s.name);
  assert.ok(sysctls.includes('net.core.somaxconn') && sysctls.includes('net.ipv4.ip_local_port_range'));
  // Postfix's postlog datagram queue: 10 in a pod's network namespace, where every logging process would block.
  assert.deepEqual((pod.spec.securityContext as { sysctls: { name: string; value: string }[] }).sysctls.find((s) => s.name === 'net.unix.max_dgram_qlen'), { name: 'net.unix.max_dgram_qlen', value: '512' });
  assert.equal(pod.metadata?.annotations?.['mailfleet.io/kubelet-allowed-unsafe-sysctls'], 'net.core.somaxconn,net.ipv4.tcp_tw_reuse,net.unix.max_dgram_qlen');
  assert.match(mta.comment ?? '', /--allowed-unsafe-sysctls=net\.core\.somaxconn,net\.ipv4\.tcp_tw_reuse,net\.unix\.max_dgram_qlen/);
  // Only the Postfix roles log through a datagram socket.
  const proxy = docs.find((d) => d.object.kind === 'StatefulSet' && d.object.metadata.name === 'proxy');
  const proxySysctls = ((proxy?.object.spec as { template: Pod }).template.spec.securityContext as { sysctls: { name: string }[] }).sysctls.map((s) => s.name);
  assert.ok(!proxySysctls.includes('net.unix.max_dgram_qlen'));
});

const sysctlsOfPod = (objects: KubeObject[], name: string) =>
  ((find(objects, 'StatefulSet', name).spec as { template: Pod }).template.spec.securityContext as { sysctls?: { name: string; value: string }[] }).sysctls ?? [];

test('GIVEN a widened ephemeral port range WHEN rendered THEN the platform\'s listener ports inside it are reserved', () => {
  const objects = renderPlatform(variant((d) => (d.spec.ports = { http: 8082, policy: 40000 })));
  const mta = Object.fromEntries(sysctlsOfPod(objects, 'mta').map((s) => [s.name, s.value]));
  assert.equal(mta['net.ipv4.ip_local_port_range'], '1024 65000');
  const reserved = mta['net.ipv4.ip_local_reserved_ports'] ?? '';
  // Consecutive ports as ranges; below 1024 nothing (the range starts there).
  assert.match(reserved, /^[0-9,-]+$/);
  const ports = reserved.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number) as [number, number?];
    return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
  for (const port of [8082, 40000, 9090, 10041, 12345]) assert.ok(ports.includes(port), `${port} reserved in ${reserved}`);
  assert.ok(!ports.includes(8081) && !ports.includes(10040), 'ports moved away are no longer reserved');
  assert.ok(ports.every((p) => p >= 1024 && p <= 65000));
  // A role without the widened range reserves nothing.
  assert.ok(!sysctlsOfPod(objects, 'mailbox').some((s) => s.name === 'net.ipv4.ip_local_reserved_ports'));
});

test('GIVEN spec.kubernetes.unsafeSysctls false WHEN rendered THEN no pod asks kubelet for an unsafe sysctl and nothing names one', () => {
  const docs = renderPlatformDocuments(variant((d) => (d.spec.kubernetes.unsafeSysctls = false)));
  const objects = docs.map((d) => d.object);
  const unsafe = ['net.core.somaxconn', 'net.ipv4.tcp_tw_reuse', 'net.unix.max_dgram_qlen'];
  for (const { owner, pod } of podTemplates(objects)) {
    const names = ((pod.spec.securityContext as { sysctls?: { name: string }[] } | undefined)?.sysctls ?? []).map((s) => s.name);
    assert.deepEqual(names.filter((n) => unsafe.includes(n)), [], `${owner.metadata.name} sets only safe sysctls`);
    assert.equal(pod.metadata?.annotations?.['mailfleet.io/kubelet-allowed-unsafe-sysctls'], undefined);
  }
  assert.ok(!docs.some((d) => /allowed-unsafe-sysctls=/.test(d.comment ?? '')));
  // The safe ones stay: the port range and its reserved ports.
  assert.deepEqual(sysctlsOfPod(objects, 'mta').map((s) => s.name), ['net.ipv4.ip_local_port_range', 'net.ipv4.ip_local_reserved_ports']);
  assert.deepEqual(sysctlsOfPod(objects, 'kvs'), []);
});

test('GIVEN every pod template, with every optional part on WHEN rendered THEN each runs under the runtime\'s seccomp profile and every emptyDir has a size limit', () => {
  const objects = renderPlatform(variant((d) => {
    d.spec.kubernetes.nodeLocalDns = true;
    d.spec.roles = { ...(d.spec.roles as object), av: { replicas: 1 } };
    d.spec.filter = { antivirus: { signatures: { mirror: 'https://clamav.isp.example.net' } } };
  }));
  const templates = podTemplates(objects);
  assert.ok(templates.some(({ owner }) => owner.metadata.name === 'av'), 'the antivirus pods are among them');
  for (const { owner, pod } of templates) {
    const where = `${owner.kind}/${owner.metadata.name}`;
    const podLevel = (pod.spec.securityContext as { seccompProfile?: { type: string } } | undefined)?.seccompProfile?.type;
    const containers = [...pod.spec.containers, ...((pod.spec.initContainers as Record<string, unknown>[] | undefined) ?? [])];
    for (const c of containers) {
      const own = (c.securityContext as { seccompProfile?: { type: string } } | undefined)?.seccompProfile?.type;
      assert.equal(own ?? podLevel, 'RuntimeDefault', `${where} ${String(c.name)}`);
    }
    for (const v of (pod.spec.volumes as { name: string; emptyDir?: { sizeLimit?: string } }[] | undefined) ?? []) {
      if (v.emptyDir) assert.ok(v.emptyDir.sizeLimit, `${where} volume ${v.name} has a size limit`);
    }
  }
});

test('GIVEN the example WHEN rendered THEN each LoadBalancer Service says it needs a DNS name of its own in the certificate', () => {
  const balancers = renderPlatformDocuments(example).filter((d) => (d.object.spec as { type?: string } | undefined)?.type === 'LoadBalancer');
  assert.deepEqual(balancers.map((d) => d.object.metadata.name).sort(), ['demo-access', 'demo-mx', 'demo-submission']);
  for (const d of balancers) assert.match(d.comment ?? '', /An external address of its own: point the .* at it[^]*spec\.tls\.certificates/, d.object.metadata.name);
});

test('GIVEN outbound pools WHEN rendered THEN each has its own IPPool with NAT off and its pods ask for it', () => {
  const objects = renderPlatform(variant((d) => (d.spec.outbound = { mailout: { ipv6Cidr: '2001:db8:25::/120' } })));
  for (const pool of ['mailout', 'fallback']) {
    const v4 = find(objects, 'IPPool', `demo-${pool}-v4`);
    assert.equal((v4.spec as { natOutgoing: boolean }).natOutgoing, false);
    assert.equal(v4.metadata.namespace, undefined, 'IPPool is cluster-scoped');
    const ann = (find(objects, 'StatefulSet', pool).spec as { template: Pod }).template.metadata?.annotations ?? {};
    assert.deepEqual(JSON.parse(ann['cni.projectcalico.org/ipv4pools'] ?? '[]'), [`demo-${pool}-v4`]);
  }
  assert.equal((find(objects, 'IPPool', 'demo-mailout-v6').spec as { cidr: string }).cidr, '2001:db8:25::/120');
  const mailoutMain = (find(objects, 'ConfigMap', 'demo-mailout-config').data as Record<string, string>)['main.cf'] ?? '';
  assert.match(mailoutMain, /^smtp_fallback_relay = \[fallback\.mailfleet\.svc\.cluster\.local\]:25$/m);
  const msaMain = (find(objects, 'ConfigMap', 'demo-msa-config').data as Record<string, string>)['main.cf'] ?? '';
  assert.match(msaMain, /^relayhost = \[mailout\.mailfleet\.svc\.cluster\.local\]:25$/m);
  assert.doesNotMatch(msaMain, /^defer_transports/m, 'with a mailout pool, foreign mail is relayed, not held');
});

test('GIVEN a load balancer range WHEN rendered THEN PROXY-protocol listeners exist and only that range may reach them', () => {
  const objects = renderPlatform(variant((d) => (d.spec.loadBalancer.sourceRanges = ['192.0.2.0/28'])));
  const mtaMaster = (find(objects, 'ConfigMap', 'demo-mta-config').data as Record<string, string>)['master.cf'] ?? '';
  // postscreen reads the header on the mta (and hands the client, with its address, to smtpd).
  assert.match(mtaMaster, /^smtp-lb unix .* postscreen .*-o postscreen_upstream_proxy_protocol=haproxy /m);
  assert.doesNotMatch(mtaMaster, /inet .*upstream_proxy_protocol/, 'the balancer port is the agent\'s, which checks the peer');
  const proxyConf = (find(objects, 'ConfigMap', 'demo-proxy-config').data as Record<string, string>)['dovecot.conf'] ?? '';
  assert.match(proxyConf, /^haproxy_trusted_networks = 192\.0\.2\.0\/28$/m);
  const policy = find(objects, 'NetworkPolicy', 'demo-mta').spec as { ingress: { from: { ipBlock?: { cidr: string } }[]; ports: { port: string }[] }[] };
  const lbRule = policy.ingress.find((r) => r.ports.some((p) => p.port === 'smtp-lb'));
  assert.deepEqual(lbRule?.from, [{ ipBlock: { cidr: '192.0.2.0/28' } }]);
  const mx = find(objects, 'Service', 'demo-mx').spec as { type: string; externalTrafficPolicy: string; ports: { name: string }[] };
  assert.equal(mx.type, 'LoadBalancer');
  assert.equal(mx.externalTrafficPolicy, 'Local');
  assert.deepEqual(mx.ports.map((p) => p.name), ['smtp', 'smtp-lb']);
});

const INLINE_SECRETS = { adminPassword: 'inline-admin-secret-0123', readerPassword: 'inline-reader-secret-0123', authPassword: 'inline-auth-secret-0123', tlsKey: 'inline-ldap-tls-key-0123' };
const INLINE_KEY = 'inline-doveadm-key-0123456789';
const INLINE_BACKEND_LOGIN = 'inline-backend-login-0123456';
const INLINE_PROBE = 'inline-probe-password-0123';
const INLINE_REDIS = 'inline-redis-password-0123456';
const INLINE_RSPAMD = 'inline-rspamd-password-0123456';
const INLINE_METRICS_ADMIN = 'inline-metrics-admin-key-0123456';
const INLINE_AUTH_POLICY = { apiKey: 'inline-auth-policy-key-0123456', hashNonce: 'inline-auth-policy-nonce-01234' };

/** The example with every platform secret in the spec and no existing Secret named: the Secret is rendered. */
const inline = () => variant((d) => {
  d.spec.ldap = { ...(d.spec.ldap as object), ...INLINE_SECRETS };
  d.spec.director = { apiKey: INLINE_KEY, backendLoginPassword: INLINE_BACKEND_LOGIN, authRelayKey: 'inline-auth-relay-key-012345', backendTlsKey: 'inline-backend-tls-key-01234' };
  d.spec.probe = { password: INLINE_PROBE };
  d.spec.redis = { password: INLINE_REDIS };
  d.spec.filter = { controllerPassword: INLINE_RSPAMD };
  d.spec.alerting = { adminKey: INLINE_METRICS_ADMIN };
  d.spec.policy = { auth: INLINE_AUTH_POLICY };
  d.spec.kubernetes.existingSecret = '';
});

test('GIVEN every secret in the spec WHEN rendered THEN no ConfigMap holds one and the Secret holds them all', () => {
  const doc = inline();
  const objects = renderPlatform(doc);
  const secretValues = [INLINE_SECRETS.adminPassword, INLINE_SECRETS.readerPassword, INLINE_SECRETS.authPassword, INLINE_KEY, INLINE_BACKEND_LOGIN, INLINE_PROBE, INLINE_REDIS, INLINE_RSPAMD, INLINE_METRICS_ADMIN, INLINE_AUTH_POLICY.apiKey, INLINE_AUTH_POLICY.hashNonce, ...doc.spec.accounts.seed.map((a) => a.password)];
  for (const cm of byKind(objects, 'ConfigMap')) {
    const text = JSON.stringify(cm);
    for (const s of secretValues) assert.ok(!text.includes(s), `ConfigMap ${cm.metadata.name} must not contain a secret`);
  }
  const secret = find(objects, 'Secret', 'demo-secrets') as KubeObject & { stringData: Record<string, string> };
  assert.deepEqual(Object.values(secret.stringData).filter((v) => secretValues.includes(v)).length, secretValues.length);
});

test('GIVEN the example (existingSecret named) WHEN rendered THEN no Secret is rendered and the pods mount the named one', () => {
  const objects = renderPlatform(example);
  assert.equal(byKind(objects, 'Secret').length, 0);
  const volumes = (find(objects, 'StatefulSet', 'proxy').spec as { template: Pod }).template.spec.volumes as { secret?: { secretName: string } }[];
  assert.ok(volumes.some((v) => v.secret?.secretName === 'demo-secrets'));
});

test('GIVEN no secrets in the spec and no existing Secret WHEN rendered THEN render refuses, naming each missing field and existingSecret', () => {
  assert.throws(() => renderPlatform(variant((d) => (d.spec.kubernetes.existingSecret = ''))), (err: unknown) => {
    assert.ok(isMailfleetError(err, 'SPEC_INVALID'));
    for (const field of ['spec.ldap.adminPassword', 'spec.ldap.readerPassword', 'spec.ldap.authPassword', 'spec.director.apiKey', 'spec.director.backendLoginPassword', 'spec.redis.password', 'spec.kubernetes.existingSecret']) {
      assert.ok(err.details.some((d) => d.startsWith(`${field}:`)), `${field} named in:\n${err.details.join('\n')}`);
    }
    return true;
  });
});

type SecretVolume = { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } };
const secretItems = (objects: KubeObject[], workload: string): string[] | undefined => {
  const volumes = (find(objects, 'StatefulSet', workload).spec as { template: Pod }).template.spec.volumes as SecretVolume[];
  return volumes.find((v) => v.secret)?.secret?.items?.map((i) => i.key);
};

test('GIVEN the example WHEN rendered THEN the Internet-facing mta mounts only the LDAP reader password and the LDAP CA\'s certificate: no admin password, no doveadm key, no LDAP TLS key', () => {
  const objects = renderPlatform(example);
  assert.deepEqual(secretItems(objects, 'mta'), ['ldap-reader-password', 'ldap-tls-ca']);
  assert.deepEqual(secretItems(objects, 'msa'), ['ldap-reader-password', 'ldap-tls-ca', 'auth-relay-key'], 'the msa: its LDAP maps and the key of its SMTP AUTH relay to the proxies');
  for (const w of ['mailout', 'fallback']) assert.equal(secretItems(objects, w), undefined, `${w} mounts no Secret`);
  assert.deepEqual(secretItems(objects, 'kvs'), ['redis-password'], 'Redis holds its own password, and nothing else');
  assert.ok(secretItems(objects, 'ldap')?.includes('ldap-admin-password'));
  assert.ok(secretItems(objects, 'ldap')?.includes('ldap-tls-key'), 'slapd issues its certificate from the key');
  for (const w of ['mta', 'msa', 'proxy', 'mailbox']) assert.ok(!secretItems(objects, w)?.includes('ldap-tls-key'), `${w}: an LDAP client holds the CA's certificate, never its key`);
  // The auth policy: the credential the proxies send the policy server and the nonce of the password hashes.
  assert.deepEqual(secretItems(objects, 'proxy'), ['ldap-auth-password', 'ldap-tls-ca', 'doveadm-api-key', 'backend-login-password', 'auth-relay-key', 'backend-tls-key', 'auth-policy-api-key', 'auth-policy-hash-nonce']);
  assert.ok(!secretItems(objects, 'mta')?.includes('ldap-auth-password'), 'the mta cannot read password hashes');
});

test('GIVEN every workload WHEN rendered THEN each secret its ConfigMap names is among the keys its pods mount', () => {
  const objects = renderPlatform(inline());
  for (const sts of byKind(objects, 'StatefulSet')) {
    const w = sts.metadata.name;
    const cm = objects.find((o): o is KubeObject & { data?: Record<string, string> } => o.kind === 'ConfigMap' && o.metadata.name === `demo-${w}-config`);
    const named = [...JSON.stringify(cm?.data ?? {}).matchAll(/\{\{mailfleet\.secret\.([a-z0-9-]+)\}\}/g)].map((m) => m[1]);
    const mounted = secretItems(objects, w) ?? [];
    for (const key of named) assert.ok(mounted.includes(key as string), `${w} names ${key} but does not mount it (mounts ${mounted.join(', ')})`);
  }
});

test('GIVEN network policies on (default) WHEN rendered THEN everything is denied by default and each role has an allowlist; off renders none', () => {
  const objects = renderPlatform(example);
  const deny = find(objects, 'NetworkPolicy', 'demo-default-deny').spec as { podSelector: object; policyTypes: string[]; ingress?: unknown };
  assert.deepEqual(deny.podSelector, {});
  assert.deepEqual(deny.policyTypes, ['Ingress', 'Egress']);
  assert.equal(deny.ingress, undefined);
  const mailbox = find(objects, 'NetworkPolicy', 'demo-mailbox').spec as { ingress: { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: string }[] }[] };
  const lmtp = mailbox.ingress.find((r) => r.ports.some((p) => p.port === 'lmtp'));
  assert.deepEqual(lmtp?.from.map((f) => f.podSelector?.matchLabels['app.kubernetes.io/component']), ['proxy'], 'only the proxy delivers to a backend');
  const off = renderPlatform(variant((d) => (d.spec.kubernetes.networkPolicies = false)));
  assert.equal(byKind(off, 'NetworkPolicy').length, 0);
});

test('GIVEN the controller WHEN rendered THEN its RBAC is namespaced and limited to EndpointSlices, its Lease and Events', () => {
  const objects = renderPlatform(example);
  assert.equal(byKind(objects, 'ClusterRole').length, 0);
  const role = find(objects, 'Role', 'demo-controller') as KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] };
  const writes = role.rules.filter((r) => r.verbs.some((v) => ['update', 'patch', 'delete', 'create'].includes(v)));
  assert.deepEqual(writes.map((r) => r.resources[0]).sort(), ['events', 'leases', 'leases']);
  assert.ok(role.rules.every((r) => !r.verbs.includes('*') && !r.resources.includes('*')));
  const leaseUpdate = role.rules.find((r) => r.resources.includes('leases') && r.verbs.includes('update'));
  assert.deepEqual(leaseUpdate?.resourceNames, ['mailfleet-backend-sync']);
});

test('GIVEN each scrape mode WHEN rendered THEN exactly that discovery is used', () => {
  const annotations = renderPlatform(variant((d) => (d.spec.kubernetes.scrape = 'annotations')));
  assert.equal(((find(annotations, 'StatefulSet', 'mta').spec as { template: Pod }).template.metadata?.annotations ?? {})['prometheus.io/scrape'], 'true');
  assert.equal(byKind(annotations, 'VMPodScrape').length + byKind(annotations, 'ServiceMonitor').length, 0);
  const vm = renderPlatform(variant((d) => (d.spec.kubernetes.scrape = 'VMPodScrape')));
  assert.equal(byKind(vm, 'VMPodScrape').length, 1);
  assert.equal(((find(vm, 'StatefulSet', 'mta').spec as { template: Pod }).template.metadata?.annotations ?? {})['prometheus.io/scrape'], undefined);
  const sm = renderPlatform(variant((d) => (d.spec.kubernetes.scrape = 'ServiceMonitor')));
  assert.equal(byKind(sm, 'ServiceMonitor').length, 1);
});

test('GIVEN the example WHEN rendered THEN VictoriaMetrics and vmalert take the metrics admin key for every admin endpoint from the Secret, in their environment and never in their arguments', () => {
  const objects = renderPlatform(example);
  const expected: Record<string, string[]> = {
    victoriametrics: ['configAuthKey', 'deleteAuthKey', 'flagsAuthKey', 'forceFlushAuthKey', 'forceMergeAuthKey', 'pprofAuthKey', 'reloadAuthKey', 'search_resetCacheAuthKey', 'snapshotAuthKey'],
    vmalert: ['flagsAuthKey', 'pprofAuthKey', 'reloadAuthKey'],
  };
  for (const { owner, pod } of podTemplates(objects).filter(({ owner: o }) => o.metadata.name in expected)) {
    const [c] = pod.spec.containers as { args: string[]; env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[];
    assert.ok(c, owner.metadata.name);
    assert.ok(c.args.includes('-envflag.enable'), `${owner.metadata.name} reads flags from its environment`);
    assert.ok(!c.args.some((a) => /AuthKey/i.test(a)), `${owner.metadata.name}: no key on the command line`);
    assert.deepEqual((c.env ?? []).map((e) => e.name).sort(), expected[owner.metadata.name], owner.metadata.name);
    for (const e of c.env ?? []) {
      assert.equal(e.value, undefined, `${e.name} has no literal value`);
      assert.deepEqual(e.valueFrom?.secretKeyRef, { name: example.spec.kubernetes.existingSecret, key: 'metrics-admin-key' }, e.name);
    }
  }
  assert.equal(podTemplates(objects).filter(({ owner: o }) => o.metadata.name in expected).length, 2);
});
