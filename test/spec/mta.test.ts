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

function problems(postscreen: string): string[] {
  try {
    parseSpec(`${MINIMAL}  mta: { postscreen: ${postscreen} }\n`, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

test('GIVEN a spec without mta WHEN parsed THEN postscreen runs with Postfix\'s greet wait, no blocklist and no networks of its own', () => {
  const { spec } = parseSpec(MINIMAL);

  assert.deepEqual(spec.mta.postscreen, {
    enabled: true, greetWaitSeconds: 6, dnsbl: { sites: [], threshold: 1 }, allowNetworks: [], denyNetworks: [], connectionCountLimit: 50, preQueueLimit: 200,
  });
  assert.ok(Object.isFrozen(spec.mta.postscreen.dnsbl));
});

test('GIVEN a blocklist site without weight WHEN parsed THEN its weight is 1', () => {
  const { spec } = parseSpec(`${MINIMAL}  mta: { postscreen: { dnsbl: { sites: [{ domain: bl.example.net }] } } }\n`);

  assert.deepEqual(spec.mta.postscreen.dnsbl.sites, [{ domain: 'bl.example.net', weight: 1 }]);
});

const BAD: [string, string, RegExp][] = [
  ['an unknown key', '{ greetWait: 6 }', /spec\.mta\.postscreen/],
  ['a greet wait of 0', '{ greetWaitSeconds: 0 }', /spec\.mta\.postscreen\.greetWaitSeconds/],
  ['a network with host bits past its prefix', '{ allowNetworks: [10.0.0.1/8] }', /^spec\.mta\.postscreen\.allowNetworks\[0\]: "10\.0\.0\.1\/8"/],
  ['an impossible network', '{ denyNetworks: [300.0.0.0/8] }', /^spec\.mta\.postscreen\.denyNetworks\[0\]: "300\.0\.0\.0\/8"/],
  ['a reply that is no address', '{ dnsbl: { sites: [{ domain: bl.example.net, reply: "127.0.0.2 -o x" }] } }', /spec\.mta\.postscreen\.dnsbl\.sites\/?\[?0/],
  ['a reply octet above 255', '{ dnsbl: { sites: [{ domain: bl.example.net, reply: "127.0.0.[2..300]" }] } }', /^spec\.mta\.postscreen\.dnsbl\.sites\[0\]\.reply: /],
  ['a site that is no domain', '{ dnsbl: { sites: [{ domain: "bl.example.net*9" }] } }', /spec\.mta\.postscreen\.dnsbl\.sites/],
  ['a threshold the weights never reach', '{ dnsbl: { sites: [{ domain: a.example.net }, { domain: b.example.net, weight: -3 }], threshold: 2 } }', /^spec\.mta\.postscreen\.dnsbl\.threshold: 2 is more than/],
  ['one list twice', '{ dnsbl: { sites: [{ domain: a.example.net }, { domain: a.example.net, weight: 2 }], threshold: 2 } }', /^spec\.mta\.postscreen\.dnsbl\.sites\[1\]: the same list/],
];

for (const [what, yaml, expected] of BAD) {
  test(`GIVEN spec.mta.postscreen with ${what} WHEN parsed THEN it is refused, naming the field`, () => {
    const found = problems(yaml);
    assert.ok(found.some((p) => expected.test(p)), `problems: ${JSON.stringify(found)}`);
  });
}
