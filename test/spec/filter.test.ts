import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { antivirusRuns, filterRuns, INSTANCE_ROLES, instanceReplicas, parseSpec } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
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

test('GIVEN a spec without filter settings WHEN parsed THEN rspamd runs with 2 replicas, fails open, rejects at 15, tags at 6, greylists at 4; clamd does not run', () => {
  const { spec } = parseSpec(MINIMAL);
  assert.equal(spec.roles.as.replicas, 2);
  assert.equal(spec.roles.av.replicas, 0);
  assert.equal(spec.filter.failure, 'open');
  assert.deepEqual(spec.filter.actions, { reject: 15, addHeader: 6, greylist: 4 });
  assert.deepEqual(spec.filter.greylisting, { enabled: true, delaySeconds: 300, expireSeconds: 86_400 });
  assert.equal(spec.filter.enforceDmarc, true);
  assert.deepEqual(spec.filter.nameservers, []);
  assert.equal(spec.filter.publicLists, true);
  assert.equal(spec.filter.testPatterns, false);
  assert.equal(spec.filter.antivirus.signatures, undefined);
  assert.deepEqual([spec.ports.milter, spec.ports.rspamd, spec.ports.clamd], [11332, 11334, 3310]);
  assert.equal(filterRuns(spec), true);
  assert.equal(antivirusRuns(spec), false);
});

test('GIVEN av replicas and a mirror WHEN parsed THEN clamd runs, checking 12 times a day', () => {
  const { spec } = parseSpec(`${MINIMAL}  roles: { av: { replicas: 2 } }\n  filter: { antivirus: { signatures: { mirror: 'https://clamav.example.net' } } }\n`);
  assert.equal(antivirusRuns(spec), true);
  assert.deepEqual(spec.filter.antivirus.signatures, { mirror: 'https://clamav.example.net', checksPerDay: 12 });
});

test('GIVEN no mta and no msa WHEN parsed THEN neither rspamd nor clamd runs: nothing would ask them', () => {
  const { spec } = parseSpec(`${MINIMAL}  roles: { mta: { replicas: 0 }, msa: { replicas: 0 }, av: { replicas: 1 } }\n  filter: { antivirus: { signatures: { directory: /srv/clamav } } }\n`);
  assert.equal(filterRuns(spec), false);
  assert.equal(antivirusRuns(spec), false);
});

test('GIVEN av replicas without a signature source, or with two WHEN parsed THEN the signatures field is named', () => {
  const named = 'spec.filter.antivirus.signatures: name where clamd\'s signatures come from';
  for (const filter of ['', '  filter: { antivirus: { signatures: { checksPerDay: 4 } } }\n', '  filter: { antivirus: { signatures: { mirror: "https://m.example.net", directory: /srv/clamav } } }\n']) {
    const found = problems(`${MINIMAL}  roles: { av: { replicas: 1 } }\n${filter}`);
    assert.equal(found.length, 1, filter);
    assert.ok(found[0]?.startsWith(named), found[0]);
  }
});

test('GIVEN clamd without rspamd WHEN parsed THEN the av replicas are named: only rspamd asks clamd', () => {
  assert.deepEqual(problems(`${MINIMAL}  roles: { as: { replicas: 0 }, av: { replicas: 1 } }\n  filter: { antivirus: { signatures: { directory: /srv/clamav } } }\n`), [
    'spec.roles.av.replicas: expected 0 while spec.roles.as.replicas is 0 (only rspamd asks clamd)',
  ]);
});

test('GIVEN rspamd and no kvs WHEN parsed THEN the kvs replicas are named (Bayes, greylisting, history live in Redis)', () => {
  assert.deepEqual(problems(`${MINIMAL}  roles: { kvs: { replicas: 0 } }\n  policy: { enabled: false }\n`), [
    'spec.roles.kvs.replicas: expected 1 while the filter runs (its Bayes statistics, greylisting and history live in Redis); or set spec.roles.as.replicas: 0',
  ]);
});

test('GIVEN thresholds out of order WHEN parsed THEN each is named against the next', () => {
  assert.deepEqual(problems(`${MINIMAL}  filter: { actions: { reject: 5, addHeader: 5, greylist: 7 } }\n`), [
    'spec.filter.actions.addHeader: expected below reject (5); mail that scores it would be refused before it could be tagged',
    'spec.filter.actions.greylist: expected below addHeader (5)',
  ]);
});

test('GIVEN values the schema refuses WHEN parsed THEN each field is named', () => {
  const found = problems(`${MINIMAL}  filter: { failure: maybe, nameservers: ['8.8.8.8; rm', unbound.dns.svc], controllerPassword: "has space in it 0123", antivirus: { signatures: { mirror: 'ftp://m', directory: relative } }, colour: red }\n`);
  for (const field of [
    'spec.filter.failure', 'spec.filter.nameservers[0]', 'spec.filter.nameservers[1]', 'spec.filter.controllerPassword', 'spec.filter.antivirus.signatures.mirror',
    'spec.filter.antivirus.signatures.directory', 'spec.filter.colour',
  ]) {
    assert.ok(found.some((p) => p.startsWith(`${field}:`)), `${field} in:\n${found.join('\n')}`);
  }
});

test('GIVEN resolvers with and without ports WHEN parsed THEN they are taken as given', () => {
  const { spec } = parseSpec(`${MINIMAL}  filter: { nameservers: ['127.121.0.53:5353', '10.0.0.10', '[::1]:53'] }\n`);
  assert.deepEqual(spec.filter.nameservers, ['127.121.0.53:5353', '10.0.0.10', '[::1]:53']);
});

test('GIVEN the single host WHEN instances are counted THEN one rspamd and one clamd while each runs, whatever the replicas', () => {
  const on = parseSpec(`${MINIMAL}  roles: { as: { replicas: 3 }, av: { replicas: 4 } }\n  filter: { antivirus: { signatures: { directory: /srv/clamav } } }\n`).spec;
  assert.deepEqual([instanceReplicas(on, 'as'), instanceReplicas(on, 'av')], [1, 1]);
  const off = parseSpec(`${MINIMAL}  roles: { as: { replicas: 0 } }\n`).spec;
  assert.deepEqual([instanceReplicas(off, 'as'), instanceReplicas(off, 'av')], [0, 0]);
  assert.deepEqual([instanceReplicas(parseSpec(MINIMAL).spec, 'as'), instanceReplicas(parseSpec(MINIMAL).spec, 'av')], [1, 0]);
});

test('GIVEN the start order WHEN listed THEN clamd comes before rspamd, which comes after kvs and before the mail roles', () => {
  const at = (r: string) => INSTANCE_ROLES.indexOf(r as (typeof INSTANCE_ROLES)[number]);
  assert.ok(at('kvs') < at('av') && at('av') < at('as') && at('as') < at('mta') && at('as') < at('msa'));
});
