import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { parseSpec } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
`;

function problems(resources: string): string[] {
  try {
    parseSpec(`${MINIMAL}  kubernetes: { resources: { ${resources} } }\n`, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

test('GIVEN requests above their limits WHEN the spec is parsed THEN each request is named with its limit', () => {
  assert.deepEqual(problems('mta: { requests: { cpu: "2", memory: 2Gi }, limits: { cpu: "1", memory: 1Gi } }'), [
    'spec.kubernetes.resources.mta.requests.cpu: expected at most limits.cpu (1), got 2; the API server refuses a request above its limit',
    'spec.kubernetes.resources.mta.requests.memory: expected at most limits.memory (1Gi), got 2Gi; the API server refuses a request above its limit',
  ]);
});

test('GIVEN a request above the default limit WHEN the spec is parsed THEN the request is named', () => {
  // unbound's default limits: cpu 1, memory 512Mi.
  assert.deepEqual(problems('unbound: { requests: { cpu: 1001m, memory: 513Mi } }'), [
    'spec.kubernetes.resources.unbound.requests.cpu: expected at most limits.cpu (1), got 1001m; the API server refuses a request above its limit',
    'spec.kubernetes.resources.unbound.requests.memory: expected at most limits.memory (512Mi), got 513Mi; the API server refuses a request above its limit',
  ]);
});

test('GIVEN requests at or below their limits, in other units WHEN the spec is parsed THEN they are taken', () => {
  for (const resources of [
    'mta: { requests: { cpu: 500m, memory: 512Mi }, limits: { cpu: "2", memory: 1G } }',
    'mta: { requests: { cpu: 1100m, memory: 1024Mi }, limits: { cpu: "1.1", memory: 1Gi } }',
    'mta: { requests: { cpu: "1", memory: 1000M }, limits: { cpu: 1000m, memory: 1G } }',
  ]) assert.deepEqual(problems(resources), [], resources);
});

test('GIVEN no resources WHEN the spec is parsed THEN every workload\'s default request is within its limit', () => {
  assert.deepEqual(problems(''), []);
});
