import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { platformValidator } from '../../src/spec/validator.ts';
import { ensureBuilt } from '../support/build.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const STANDALONE = join(REPO, 'dist', 'spec', 'platform-validator.cjs');
const require = createRequire(import.meta.url);

const doc = (file: string): Record<string, unknown> => parse(readFileSync(join(REPO, file), 'utf8')) as Record<string, unknown>;
const example = doc('examples/mailfleet.yaml');

/** Documents both validators must judge alike: valid ones (defaults filled in) and broken ones (the same errors). */
const DOCUMENTS: readonly { given: string; value: unknown }[] = [
  { given: 'the example', value: example },
  { given: 'the spec with every option', value: doc('test/golden/full-spec.yaml') },
  { given: 'a minimal spec', value: { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'x' }, spec: { domains: ['example.com'] } } },
  { given: 'wrong types and an unknown field', value: { ...example, metadata: { name: 'Bad_Name' }, spec: { domains: 'example.com', roles: { mailbox: { replicas: 'many' } }, bogus: 1 } } },
  { given: 'a missing spec', value: { apiVersion: 'mailfleet.io/v1alpha1', kind: 'MailPlatform', metadata: { name: 'x' } } },
  { given: 'not an object', value: ['a list'] },
];

test('GIVEN the build WHEN the standalone spec validator it wrote is compared with ajv compiling the schema THEN both fill the same defaults and report the same errors', () => {
  ensureBuilt();
  const standalone = require(STANDALONE) as ValidateFunction;
  const compiled = platformValidator();
  for (const { given, value } of DOCUMENTS) {
    const [a, b] = [structuredClone(value), structuredClone(value)];
    assert.equal(standalone(a), compiled(b), given);
    assert.deepEqual(a, b, `${given}: defaults`);
    assert.deepEqual(standalone.errors ?? null, compiled.errors ?? null, `${given}: errors`);
  }
});

test('GIVEN the compiled CLI WHEN it loads and validates a spec THEN it runs the standalone validator and never loads ajv\'s compiler', () => {
  ensureBuilt();
  const script = `
    const { loadSpecFile } = await import('./dist/spec/index.js');
    const { createRequire } = await import('node:module');
    loadSpecFile('examples/mailfleet.yaml');
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ validator: loaded.some((f) => f.endsWith('/dist/spec/platform-validator.cjs')), ajv: loaded.some((f) => f.includes('/node_modules/ajv/dist/compile/')) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { validator: true, ajv: false });
});
