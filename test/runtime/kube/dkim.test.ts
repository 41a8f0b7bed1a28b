/**
 * DKIM keys in the Kubernetes output: the `<platform>-dkim` Secret made from the key store (never by render),
 * and its mount.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POD_PATHS } from '../../../src/agent/index.ts';
import { dkimSecret, dkimVolume, renderContext, renderPlatform, toYaml } from '../../../src/runtime/kube/index.ts';
import { loadSpecFile } from '../../../src/spec/index.ts';
import { validateObjects } from '../../support/kube/openapi.ts';

const root = new URL('../../../', import.meta.url);
const example = loadSpecFile(new URL('examples/mailfleet.yaml', root).pathname);
const full = loadSpecFile(new URL('test/golden/full-spec.yaml', root).pathname);

const FILES = {
  'selectors.map': 'example.com mf20250314\n',
  'example.com.mf20250314.key': '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGpGVpY8cmiu76tPuYS6BCyl1k/83P27NyW2iSIAQY/h\n-----END PRIVATE KEY-----\n',
};

test('GIVEN signing files WHEN the DKIM Secret is built THEN it is <platform>-dkim in the platform namespace, each file a data key, and it validates against the OpenAPI schema', async () => {
  const secret = dkimSecret(example, FILES);
  assert.equal(secret.metadata.name, 'demo-dkim');
  assert.equal(secret.metadata.namespace, example.spec.kubernetes.namespace);
  assert.equal(secret.metadata.labels?.['app.kubernetes.io/component'], 'dkim');
  assert.equal(secret.type, 'Opaque');
  const data = secret.data as Record<string, string>;
  assert.deepEqual(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])), FILES);
  const report = await validateObjects([secret]);
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, 1);
});

test('GIVEN a file name Kubernetes refuses as a Secret key WHEN the Secret is built THEN it is refused', () => {
  for (const name of ['a/b.key', '..', '', 'x'.repeat(254)]) assert.throws(() => dkimSecret(example, { [name]: 'x' }), RangeError, JSON.stringify(name));
});

test('GIVEN the example and the full spec WHEN rendered THEN no object is a DKIM Secret and no private key is anywhere in the YAML', () => {
  for (const doc of [example, full]) {
    const objects = renderPlatform(doc);
    assert.ok(!objects.some((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-dkim')), doc.metadata.name);
    assert.doesNotMatch(toYaml(objects.map((object) => ({ object }))), /PRIVATE KEY/);
  }
});

test('GIVEN a platform WHEN the DKIM volume is asked for THEN it mounts the whole Secret read-only at POD_PATHS.dkim, optional, without subPath', () => {
  const { volume, mount } = dkimVolume(renderContext(example));
  assert.deepEqual(volume, { name: 'dkim', secret: { secretName: 'demo-dkim', optional: true, defaultMode: 0o440 } });
  assert.deepEqual(mount, { name: 'dkim', mountPath: POD_PATHS.dkim, readOnly: true });
});
