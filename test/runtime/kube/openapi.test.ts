import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { mailPlatformCrd, renderPlatform } from '../../../src/runtime/kube/index.ts';
import { loadSpecFile, parseSpec } from '../../../src/spec/index.ts';
import { validateObjects } from '../../support/kube/openapi.ts';

const root = new URL('../../../', import.meta.url);
const SPECS = ['examples/mailfleet.yaml', 'test/golden/full-spec.yaml'];
/** Kinds whose schemas no package offers offline (Calico, VictoriaMetrics operator). */
const NO_PUBLISHED_SCHEMA = ['IPPool', 'VMPodScrape'];

for (const file of SPECS) {
  test(`GIVEN ${file} WHEN rendered THEN every object validates against the Kubernetes OpenAPI schemas`, async () => {
    const objects = renderPlatform(loadSpecFile(new URL(file, root).pathname));
    const report = await validateObjects(objects);
    assert.deepEqual(report.problems, []);
    const uncheckedKinds = [...new Set(report.unchecked.map((u) => u.split('/')[0]))].sort();
    assert.ok(uncheckedKinds.every((k) => NO_PUBLISHED_SCHEMA.includes(k ?? '')), `unchecked: ${report.unchecked.join(', ')}`);
    assert.equal(report.ok + report.unchecked.length, objects.length);
  });
}

test('GIVEN the MailPlatform CRD WHEN the example specs are validated against it THEN they pass, and a misspelt field fails', async () => {
  const crd = mailPlatformCrd();
  const docs = SPECS.map((f) => parse(readFileSync(new URL(f, root), 'utf8')) as Record<string, unknown>);
  const namespaced = docs.map((d): Record<string, unknown> => ({ ...d, metadata: { ...(d.metadata as object), namespace: 'mail' } }));
  const good = await validateObjects([crd, ...namespaced]);
  assert.deepEqual(good.problems, []);
  assert.equal(good.ok, 1 + docs.length);
  const bad = { ...namespaced[0], spec: { ...(namespaced[0]?.spec as object), roles: { mailbox: { replica: 3 } } } };
  const report = await validateObjects([crd, bad]);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0] ?? '', /spec\.roles\.mailbox\.replica: unknown field/);
  assert.ok(parseSpec(readFileSync(new URL(SPECS[0] ?? '', root), 'utf8')), 'the same document is a valid spec file');
});
