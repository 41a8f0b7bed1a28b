import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { instanceReplicas, missingSecrets, parseSpec, probePaths, probeRuns } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com, example.net]
`;

function problems(text: string): string[] {
  try {
    parseSpec(text, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

test('GIVEN a spec without spec.probe WHEN parsed THEN the prober is on, every minute, 30 s per stage, as probe@ the first domain', () => {
  const { probe } = parseSpec(MINIMAL).spec;
  assert.deepEqual(probe, { enabled: true, intervalSeconds: 60, timeoutSeconds: 30, address: 'probe@example.com' });
});

test('GIVEN settings of its own WHEN parsed THEN they are kept, the CA bundle key defaulting to ca.crt', () => {
  const { probe } = parseSpec(`${MINIMAL}  probe: { intervalSeconds: 120, timeoutSeconds: 45, address: monitor@example.net, caBundle: { configMap: mail-ca } }\n`).spec;
  assert.deepEqual(probe, { enabled: true, intervalSeconds: 120, timeoutSeconds: 45, address: 'monitor@example.net', caBundle: { configMap: 'mail-ca', key: 'ca.crt' } });
});

const INVALID: readonly { given: string; probe: string; problem: string }[] = [
  { given: 'an address in a domain not served', probe: '{ address: probe@other.org }', problem: 'spec.probe.address: domain other.org is not in spec.domains' },
  { given: 'an address that is not one', probe: '{ address: "not an address" }', problem: 'spec.probe.address: expected a value matching' },
  { given: 'a stage deadline longer than the interval', probe: '{ intervalSeconds: 10, timeoutSeconds: 20 }', problem: 'spec.probe.timeoutSeconds: at most spec.probe.intervalSeconds (10)' },
  { given: 'an interval under 5 s', probe: '{ intervalSeconds: 1 }', problem: 'spec.probe.intervalSeconds: must be >= 5' },
  { given: 'a CA bundle naming both a Secret and a ConfigMap', probe: '{ caBundle: { secret: a, configMap: b } }', problem: 'spec.probe.caBundle: name either secret or configMap' },
  { given: 'a CA bundle naming neither', probe: '{ caBundle: { key: ca.pem } }', problem: 'spec.probe.caBundle: name either secret or configMap' },
  { given: 'a short password', probe: '{ password: short }', problem: 'spec.probe.password: must NOT have fewer than 16 characters' },
  { given: 'an unknown field', probe: '{ colour: blue }', problem: 'spec.probe.colour: unknown field' },
];

for (const { given, probe, problem } of INVALID) {
  test(`GIVEN ${given} WHEN parsed THEN the problem names the field`, () => {
    const got = problems(`${MINIMAL}  probe: ${probe}\n`);
    assert.ok(got.some((p) => p.startsWith(problem)), got.join('\n'));
  });
}

test('GIVEN a stage deadline no longer than postscreen\'s greet wait WHEN parsed THEN it is refused, naming both; off, or longer, it passes', () => {
  const got = problems(`${MINIMAL}  probe: { timeoutSeconds: 6 }\n`);
  assert.ok(got.some((p) => p.startsWith('spec.probe.timeoutSeconds: more than spec.mta.postscreen.greetWaitSeconds (6)')), got.join('\n'));
  assert.deepEqual(problems(`${MINIMAL}  probe: { timeoutSeconds: 7 }\n`), []);
  assert.deepEqual(problems(`${MINIMAL}  probe: { timeoutSeconds: 6 }\n  mta: { postscreen: { enabled: false } }\n`), []);
  assert.deepEqual(problems(`${MINIMAL}  probe: { timeoutSeconds: 4 }\n  mta: { postscreen: { greetWaitSeconds: 1 } }\n`), []);
});

test('GIVEN the probe address is also a demo account WHEN parsed THEN it is refused: the prober needs a mailbox of its own', () => {
  const got = problems(`${MINIMAL}  probe: { address: user1@example.com }\n  accounts: { generate: [{ count: 2, domain: example.com, password: pw1234-long-enough }] }\n`);
  assert.ok(got.some((p) => p.startsWith('spec.probe.address: user1@example.com is also a demo account')), got.join('\n'));
});

test('GIVEN which roles run WHEN asked THEN the prober runs only with a proxy and an msa or an mta, and probes those', () => {
  const spec = (roles: string, probe = '') => parseSpec(`${MINIMAL}  roles: ${roles}\n${probe}`).spec;
  assert.deepEqual(probePaths(spec('{}')), ['msa', 'mta']);
  assert.deepEqual(probePaths(spec('{ msa: { replicas: 0 } }')), ['mta']);
  assert.equal(probeRuns(spec('{ msa: { replicas: 0 }, mta: { replicas: 0 } }')), false);
  assert.equal(probeRuns(spec('{ proxy: { replicas: 0 }, mailbox: { replicas: 0 }, msa: { replicas: 0 }, mta: { replicas: 0 } }')), false);
  assert.equal(probeRuns(spec('{}', '  probe: { enabled: false }\n')), false);
  assert.equal(instanceReplicas(spec('{}'), 'probe'), 1);
  assert.equal(instanceReplicas(spec('{}', '  probe: { enabled: false }\n'), 'probe'), 0);
  assert.equal(instanceReplicas(spec('{}'), 'mailbox'), 3);
});

test('GIVEN a prober that runs WHEN secrets are counted THEN its password is one to generate; disabled, it is none', () => {
  const fields = (extra: string) => missingSecrets(parseSpec(MINIMAL + extra).spec).map((s) => s.field);
  assert.ok(fields('').includes('spec.probe.password'));
  assert.ok(!fields('  probe: { enabled: false }\n').includes('spec.probe.password'));
  assert.ok(!fields('  probe: { password: a-probe-password-of-my-own }\n').includes('spec.probe.password'));
});

test('GIVEN a well-known value as the probe password WHEN parsed THEN it is refused like every platform secret', () => {
  const got = problems(`${MINIMAL}  probe: { password: change-me-ldap-admin }\n`);
  assert.ok(got.some((p) => p.startsWith('spec.probe.password: a well-known value, refused')), got.join('\n'));
});
