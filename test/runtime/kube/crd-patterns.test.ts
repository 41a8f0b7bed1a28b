import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailPlatformCrd, structuralSchema } from '../../../src/runtime/kube/index.ts';

/** Every `pattern` below a schema node, with its path. */
function patterns(node: unknown, at = ''): [string, string][] {
  if (Array.isArray(node)) return node.flatMap((v, i) => patterns(v, `${at}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]): [string, string][] => (k === 'pattern' && typeof v === 'string' ? [[at, v]] : patterns(v, `${at}.${k}`)));
}

/** What Go's regexp (RE2), which the API server validates patterns with, does not take. */
const NOT_RE2 = [/\(\?[=!<]/, /\\u[0-9a-fA-F]{4}/, /\\[1-9]/];

test('GIVEN the MailPlatform CRD WHEN its patterns are read THEN none uses syntax RE2 lacks, and each still compiles', () => {
  const found = patterns(mailPlatformCrd());
  assert.ok(found.some(([at]) => at.includes('policy')), 'the policy rules are in the CRD');
  for (const [at, pattern] of found) {
    for (const bad of NOT_RE2) assert.doesNotMatch(pattern, bad, `${at}: ${pattern}`);
    // RE2's \x{…} is JavaScript's \u{…}: the same pattern, as the API server will read it.
    assert.doesNotThrow(() => new RegExp(pattern.replace(/\\x\{/g, '\\u{'), 'u'), `${at}: ${pattern}`);
  }
});

test('GIVEN a Unicode escape and a look-ahead WHEN made structural THEN they become RE2 syntax and a length bound', () => {
  assert.deepEqual(structuralSchema({ type: 'string', pattern: '^[!-~\\u0080-\\uffff]{1,320}$' }), { type: 'string', pattern: '^[!-~\\x{0080}-\\x{ffff}]{1,320}$' });
  assert.deepEqual(structuralSchema({ type: 'string', pattern: '^(?=.{1,253}$)[a-z]+$' }), { type: 'string', pattern: '^[a-z]+$', minLength: 1, maxLength: 253 });
});
