import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mailPlatformCrd, renderPlatformDocuments, toYaml } from '../../../src/runtime/kube/index.ts';
import { loadSpecFile } from '../../../src/spec/index.ts';

const root = new URL('../../../', import.meta.url);
const golden = (name: string) => readFileSync(new URL(`test/golden/${name}`, root), 'utf8');
const UPDATE = 'if the change is intended, run `npm run golden:update` and review the diff';

/** First differing line, so a failure shows where rather than two 100 KB strings. */
function firstDifference(actual: string, expected: string): string {
  const a = actual.split('\n');
  const e = expected.split('\n');
  const i = a.findIndex((line, n) => line !== e[n]);
  const at = i < 0 ? Math.min(a.length, e.length) : i;
  return `line ${at + 1}: got ${JSON.stringify(a[at])}, golden has ${JSON.stringify(e[at])}`;
}

for (const [spec, file] of [['examples/mailfleet.yaml', 'render-example.yaml'], ['test/golden/full-spec.yaml', 'render-full.yaml']] as const) {
  test(`GIVEN ${spec} WHEN rendered THEN the output equals test/golden/${file}`, () => {
    const actual = toYaml(renderPlatformDocuments(loadSpecFile(new URL(spec, root).pathname)));
    const expected = golden(file);
    assert.ok(actual === expected, `${file} differs at ${firstDifference(actual, expected)}; ${UPDATE}`);
  });
}

test('GIVEN the spec schema WHEN the CRD is generated THEN it equals test/golden/mailplatform-crd.yaml', () => {
  const actual = toYaml([{ object: mailPlatformCrd() }]);
  const expected = golden('mailplatform-crd.yaml');
  assert.ok(actual === expected, `CRD differs at ${firstDifference(actual, expected)}; ${UPDATE}`);
});
