/**
 * Certificates in the Kubernetes output: cert-manager Certificates (validated with
 * @kubernetes-models/cert-manager), the issuer they need, Secrets of the user's own, and the
 * Secret mounts of the pods that serve TLS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { POD_PATHS } from '../../../src/agent/index.ts';
import { isMailfleetError } from '../../../src/errors.ts';
import { renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { certificateLifetime } from '../../../src/runtime/kube/certificates.ts';
import { loadSpecFile, parseSpec, validateSpec, type MailPlatform } from '../../../src/spec/index.ts';
import { validateObjects } from '../../support/kube/openapi.ts';

const root = new URL('../../../', import.meta.url);
const EXAMPLE = readFileSync(new URL('examples/mailfleet.yaml', root), 'utf8');
const example = parseSpec(EXAMPLE);
const full = loadSpecFile(new URL('test/golden/full-spec.yaml', root).pathname);

type Tls = Record<string, unknown> & { kubernetes?: Record<string, unknown>; certificates?: Record<string, unknown>[] };

/** The example with its spec.tls changed (the spec is frozen: change a parsed copy and validate again). */
function withTls(change: (tls: Tls, spec: Record<string, unknown>) => void): MailPlatform {
  const doc = parse(EXAMPLE) as { spec: Record<string, unknown> & { tls: Tls } };
  doc.spec.tls.kubernetes ??= {};
  change(doc.spec.tls, doc.spec);
  return validateSpec(doc);
}

const TWO_CERTS = [{ name: 'mx', hosts: ['mail.example.com', 'mx.example.net'] }, { name: 'access', hosts: ['imap.example.com'] }];

interface CertificateSpec {
  secretName: string;
  dnsNames: string[];
  duration: string;
  renewBefore: string;
  privateKey: { algorithm: string; size: number; rotationPolicy: string };
  usages: string[];
  issuerRef: { name: string; kind: string; group: string };
}
interface SecretVolume { name: string; secret?: { secretName: string; items?: { key: string; path: string }[]; defaultMode?: number } }
interface Mount { name: string; mountPath: string; readOnly?: boolean; subPath?: string }
interface PodSpec {
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
  containers: { securityContext?: { runAsUser?: number; runAsNonRoot?: boolean }; volumeMounts: Mount[] }[];
  volumes: SecretVolume[];
}

const certificates = (objects: KubeObject[]) => objects.filter((o) => o.kind === 'Certificate');
const certSpec = (o: KubeObject) => o.spec as CertificateSpec;
const podOf = (objects: KubeObject[], workload: string): PodSpec => {
  const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === workload);
  assert.ok(sts, `StatefulSet ${workload} is rendered`);
  return (sts.spec as { template: { spec: PodSpec } }).template.spec;
};
/** The certificate Secrets a pod mounts: Secret name → where, with the volume. */
function tlsMounts(pod: PodSpec): Map<string, { mount: Mount; volume: SecretVolume }> {
  const out = new Map<string, { mount: Mount; volume: SecretVolume }>();
  for (const mount of pod.containers[0]!.volumeMounts.filter((m) => m.mountPath.startsWith(`${POD_PATHS.tls}/`))) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    assert.ok(volume?.secret, `${mount.mountPath} is a Secret volume`);
    out.set(volume.secret.secretName, { mount, volume });
  }
  return out;
}
const specInvalid = (details: RegExp[]) => (err: unknown) => {
  assert.ok(isMailfleetError(err, 'SPEC_INVALID'), String(err));
  for (const d of details) assert.ok(err.details.some((line) => d.test(line)), `a detail matches ${String(d)}: ${err.details.join(' | ')}`);
  return true;
};

test('GIVEN the example with a ClusterIssuer WHEN rendered THEN one Certificate issues the default certificate into its Secret, from that issuer', () => {
  const [cert, ...more] = certificates(renderPlatform(example));

  assert.equal(more.length, 0);
  assert.equal(cert?.apiVersion, 'cert-manager.io/v1');
  assert.equal(cert.metadata.name, 'demo-tls-default');
  assert.equal(cert.metadata.namespace, 'mailfleet');
  assert.deepEqual(certSpec(cert), {
    secretName: 'demo-tls-default',
    dnsNames: ['mail.example.com'],
    duration: '2160h',
    renewBefore: '712h48m',
    privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    usages: ['digital signature', 'server auth'],
    issuerRef: { name: 'letsencrypt-dns01', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  });
});

test('GIVEN keyType rsa-2048, 30 days and renewal at half the lifetime WHEN rendered THEN the key, duration and renewBefore follow', () => {
  const doc = withTls((tls) => Object.assign(tls, { keyType: 'rsa-2048', validityDays: 30, renewAfter: 0.5 }));

  const spec = certSpec(certificates(renderPlatform(doc))[0]!);

  assert.deepEqual(spec.privateKey, { algorithm: 'RSA', size: 2048, rotationPolicy: 'Always' });
  assert.equal(spec.duration, '720h');
  assert.equal(spec.renewBefore, '360h');
  assert.ok(spec.usages.includes('key encipherment'));
});

test('GIVEN renewal shares at the limits of the spec WHEN turned into renewBefore THEN it stays shorter than the lifetime and at least 5 minutes', () => {
  const tls = (validityDays: number, renewAfter: number) => ({ ...example.spec.tls, validityDays, renewAfter });

  assert.deepEqual(certificateLifetime(tls(1, 0.0000001)), { duration: '24h', renewBefore: '23h59m' });
  assert.deepEqual(certificateLifetime(tls(1, 0.99)), { duration: '24h', renewBefore: '14m' });
  assert.deepEqual(certificateLifetime(tls(825, 0.67)), { duration: '19800h', renewBefore: '6534h' });
});

test('GIVEN every rendered Certificate of the example, the full spec and each key type WHEN validated with @kubernetes-models/cert-manager THEN all pass', async () => {
  const objects = [example, full, withTls((t) => (t.keyType = 'rsa-2048')), withTls((t) => (t.certificates = TWO_CERTS))]
    .flatMap((doc) => certificates(renderPlatform(doc)));
  assert.equal(objects.length, 1 + 1 + 1 + 2);

  const report = await validateObjects(objects);

  assert.deepEqual(report.problems, []);
  assert.deepEqual(report.unchecked, []);
  assert.equal(report.ok, objects.length);
});

test('GIVEN a rendered Certificate spoilt three ways WHEN validated THEN the cert-manager schema reports each', async () => {
  const cert = certificates(renderPlatform(example))[0]!;
  const spoilt = { ...cert, spec: { ...certSpec(cert), privateKey: { algorithm: 'EC', size: 256 }, dnsName: ['x.example'], secretName: undefined } };

  const report = await validateObjects([spoilt]);

  assert.equal(report.ok, 0);
  assert.ok(report.problems.some((p) => /spec\.privateKey\.algorithm: must be one of/.test(p)), report.problems.join('\n'));
  assert.ok(report.problems.some((p) => /spec\.dnsName: unknown field/.test(p)), report.problems.join('\n'));
  assert.ok(report.problems.some((p) => /spec\.secretName: required field missing/.test(p)), report.problems.join('\n'));
});

test('GIVEN certificates of cert-manager and no issuerRef WHEN rendered THEN render refuses, naming spec.tls.kubernetes.issuerRef and the existingSecret alternatives for each', () => {
  const doc = withTls((tls) => {
    tls.certificates = TWO_CERTS;
    delete tls.kubernetes!.issuerRef;
  });

  assert.throws(() => renderPlatform(doc), specInvalid([
    /^spec\.tls\.kubernetes\.issuerRef: .*demo-tls-mx for spec\.tls\.certificates\[0\].*spec\.tls\.certificates\[0\]\.existingSecret or spec\.tls\.kubernetes\.existingSecret$/,
    /^spec\.tls\.kubernetes\.issuerRef: .*demo-tls-access for spec\.tls\.certificates\[1\].*spec\.tls\.certificates\[1\]\.existingSecret$/,
  ]));
});

test('GIVEN the default certificate in spec.tls.kubernetes.existingSecret WHEN rendered THEN only the others get a Certificate and the pods mount the named Secret', () => {
  const doc = withTls((tls) => {
    tls.certificates = TWO_CERTS;
    tls.kubernetes!.existingSecret = 'mx-cert';
  });

  const objects = renderPlatform(doc);

  assert.deepEqual(certificates(objects).map((c) => c.metadata.name), ['demo-tls-access']);
  const mounts = tlsMounts(podOf(objects, 'mta'));
  assert.equal(mounts.get('mx-cert')?.mount.mountPath, `${POD_PATHS.tls}/mx`);
  assert.equal(mounts.get('demo-tls-access')?.mount.mountPath, `${POD_PATHS.tls}/access`);
});

test('GIVEN every certificate with a Secret of its own and no issuerRef WHEN rendered THEN no Certificate is rendered and nothing is refused', () => {
  const doc = withTls((tls) => {
    tls.certificates = TWO_CERTS.map((c) => ({ ...c, existingSecret: `${c.name}-own` }));
    delete tls.kubernetes!.issuerRef;
  });

  const objects = renderPlatform(doc);

  assert.equal(certificates(objects).length, 0);
  assert.deepEqual([...tlsMounts(podOf(objects, 'proxy')).keys()].sort(), ['access-own', 'mx-own']);
});

test('GIVEN two different Secrets named for the default certificate WHEN rendered THEN render refuses, naming both fields', () => {
  const doc = withTls((tls) => {
    tls.certificates = [{ ...TWO_CERTS[0], existingSecret: 'one' }];
    tls.kubernetes!.existingSecret = 'other';
  });

  assert.throws(() => renderPlatform(doc), specInvalid([/^spec\.tls\.kubernetes\.existingSecret: "other" differs from spec\.tls\.certificates\[0\]\.existingSecret "one"/]));
});

test('GIVEN two certificates WHEN rendered THEN mta, msa and proxy mount each Secret read-only as a directory, key and certificate only, readable by root only', () => {
  const objects = renderPlatform(withTls((tls) => (tls.certificates = TWO_CERTS)));

  for (const w of ['mta', 'msa', 'proxy']) {
    const pod = podOf(objects, w);
    const mounts = tlsMounts(pod);
    assert.deepEqual([...mounts.keys()].sort(), ['demo-tls-access', 'demo-tls-mx'], w);
    for (const [secret, { mount, volume }] of mounts) {
      assert.equal(mount.mountPath, `${POD_PATHS.tls}/${secret.slice('demo-tls-'.length)}`, `${w}: ${secret}`);
      assert.equal(mount.readOnly, true);
      assert.equal(mount.subPath, undefined, 'a subPath mount never sees a renewed Secret');
      assert.equal(volume.secret?.defaultMode, 0o400);
      assert.deepEqual(volume.secret?.items, [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }]);
    }
    // 0400 files owned by root: the agent and the daemon (which reads its key before dropping privileges) run as root.
    for (const ctx of [pod.securityContext, pod.containers[0]!.securityContext]) {
      assert.ok(ctx?.runAsUser === undefined || ctx.runAsUser === 0, `${w} runs as root`);
      assert.notEqual(ctx?.runAsNonRoot, true, `${w} runs as root`);
    }
  }
});

test('GIVEN the example WHEN rendered THEN no workload without a TLS listener mounts a certificate, and no ConfigMap holds a key', () => {
  const objects = renderPlatform(withTls((tls) => (tls.certificates = TWO_CERTS)));

  for (const w of ['mailbox', 'ldap', 'kvs', 'mailout', 'fallback']) {
    if (!objects.some((o) => o.kind === 'StatefulSet' && o.metadata.name === w)) continue;
    assert.equal(tlsMounts(podOf(objects, w)).size, 0, `${w} mounts no certificate`);
    assert.ok(!podOf(objects, w).volumes.some((v) => v.secret?.secretName.startsWith('demo-tls-')), `${w} has no certificate volume`);
  }
  for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
    assert.doesNotMatch(JSON.stringify(cm), /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `ConfigMap ${cm.metadata.name}`);
  }
});

test('GIVEN the README\'s ClusterIssuer for DNS-01 WHEN validated with @kubernetes-models/cert-manager THEN it passes, and it is the issuer the example names', async () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const block = /```yaml\n((?:(?!```)[\s\S])*?kind: ClusterIssuer(?:(?!```)[\s\S])*?)```/.exec(readme.replace(/^ {2}/gm, ''))?.[1];
  assert.ok(block, 'the README shows a ClusterIssuer');
  const issuer = parse(block) as KubeObject;

  const report = await validateObjects([issuer]);

  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, 1);
  assert.equal(issuer.metadata.name, example.spec.tls.kubernetes.issuerRef?.name);
  assert.ok('dns01' in ((issuer.spec as { acme: { solvers: object[] } }).acme.solvers[0] ?? {}), 'a DNS-01 solver');
});
