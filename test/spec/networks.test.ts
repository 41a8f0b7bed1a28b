import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unboundFiles } from '../../src/config/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { parseNetwork } from '../../src/policy/index.ts';
import { endpointProblem } from '../../src/spec/networks.ts';
import { addressProblem, networkProblem, parseSpec } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
`;

function problems(extra: string): string[] {
  try {
    parseSpec(`${MINIMAL}  ${extra}\n`, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

const RULE = 'name: a, key: client_address, count: recipients, windows: [{ limit: 1, seconds: 60 }]';
const ACME = "issuer: acme, acme: { directory: 'https://acme.example.net/dir'";

/** Every field that holds an address or a network: a value the schema's pattern lets through that is wrong, and a right one. */
const FIELDS: readonly { field: string; yaml: (value: string) => string; bad: string; problem: string; good: string }[] = [
  { field: 'spec.relayNetworks[0]', yaml: (v) => `relayNetworks: ['${v}']`, bad: '192.168.1.0/33', problem: 'expected a prefix length from 0 to 32', good: '192.168.1.0/24' },
  { field: 'spec.loadBalancer.sourceRanges[0]', yaml: (v) => `loadBalancer: { sourceRanges: ['${v}'] }`, bad: 'fe80::/200', problem: 'expected a prefix length from 0 to 128', good: 'fe80::/10' },
  { field: 'spec.outbound.mailout.ipv4Cidr', yaml: (v) => `outbound: { mailout: { ipv4Cidr: '${v}' } }`, bad: '198.51.100.0/40', problem: 'expected a prefix length from 0 to 32', good: '198.51.100.0/28' },
  { field: 'spec.outbound.fallback.ipv4Cidr', yaml: (v) => `outbound: { fallback: { ipv4Cidr: '${v}' } }`, bad: '2001:db8:26::/120', problem: 'expected an IPv4 network (address/prefix)', good: '198.51.100.16/28' },
  { field: 'spec.outbound.mailout.ipv6Cidr', yaml: (v) => `outbound: { mailout: { ipv6Cidr: '${v}' } }`, bad: '2001:db8:25::1/120', problem: 'has bits set past its /120 (the network is 2001:db8:25::/120)', good: '2001:db8:25::/120' },
  { field: 'spec.kubernetes.nodeLocalDnsAddress', yaml: (v) => `kubernetes: { nodeLocalDnsAddress: '${v}' }`, bad: '169.254.20.300', problem: 'expected an IPv4 address', good: '169.254.20.10' },
  { field: 'spec.kubernetes.podNetworks[0]', yaml: (v) => `kubernetes: { podNetworks: ['${v}'] }`, bad: '300.1.1.1/8', problem: 'expected an IPv4 or IPv6 network (address/prefix)', good: '10.244.0.0/16' },
  { field: 'spec.kubernetes.nodeNetworks[0]', yaml: (v) => `kubernetes: { nodeNetworks: ['${v}'] }`, bad: '10.1.2.3/8', problem: 'has bits set past its /8 (the network is 10.0.0.0/8)', good: 'fd00:10::/56' },
  { field: 'spec.policy.exempt.networks[0]', yaml: (v) => `policy: { exempt: { networks: ['${v}'] } }`, bad: '1.2.3.4/99', problem: 'expected a prefix length from 0 to 32', good: '1.2.3.4' },
  {
    field: 'spec.policy.rules[0].exempt.networks[0]', yaml: (v) => `policy: { rules: [{ ${RULE}, exempt: { networks: ['${v}'] } }] }`,
    bad: 'fe80::1%eth0', problem: 'expected an IPv4 or IPv6 network (address/prefix) or address', good: '2001:db8::/32',
  },
  { field: 'spec.filter.nameservers[0]', yaml: (v) => `filter: { nameservers: ['${v}'] }`, bad: '192.0.2.256:53', problem: 'expected an IPv4 address', good: '192.0.2.53:53' },
  { field: 'spec.filter.nameservers[0]', yaml: (v) => `filter: { nameservers: ['${v}'] }`, bad: '[2001:db8::53]:65536', problem: 'expected a port from 1 to 65535', good: '[2001:db8::53]:5353' },
  { field: 'spec.tls.acme.http01Listen', yaml: (v) => `tls: { ${ACME}, http01Listen: '${v}' } }`, bad: '203.0.113.256:80', problem: 'expected an IPv4 address', good: '203.0.113.5:80' },
];

test('GIVEN a wrong address or network the schema\'s pattern lets through WHEN the spec is parsed THEN one problem names the field, quotes the value and says what was expected', () => {
  for (const { field, yaml, bad, problem } of FIELDS) {
    assert.deepEqual(problems(yaml(bad)), [`${field}: ${JSON.stringify(bad)} ${problem}`], field);
  }
});

test('GIVEN a right address or network in each of those fields WHEN the spec is parsed THEN it is taken as written', () => {
  for (const { field, yaml, good } of FIELDS) assert.deepEqual(problems(yaml(good)), [], field);
});

test('GIVEN several wrong networks in one spec WHEN it is parsed THEN SPEC_INVALID lists each, one line per field', () => {
  assert.deepEqual(problems("relayNetworks: ['10.0.0.0/8', '192.168.1.0/33']\n  kubernetes: { podNetworks: ['300.1.1.1/8'], nodeLocalDnsAddress: '1.2.3.999' }"), [
    'spec.relayNetworks[1]: "192.168.1.0/33" expected a prefix length from 0 to 32',
    'spec.kubernetes.nodeLocalDnsAddress: "1.2.3.999" expected an IPv4 address',
    'spec.kubernetes.podNetworks[0]: "300.1.1.1/8" expected an IPv4 or IPv6 network (address/prefix)',
  ]);
});

test('GIVEN networks, good and hostile WHEN checked THEN only an address of its family with a prefix in range and no host bits passes', () => {
  const cases: [string, string | undefined][] = [
    ['0.0.0.0/0', undefined],
    ['192.0.2.0/24', undefined],
    ['192.0.2.7/32', undefined],
    ['::/0', undefined],
    ['2001:db8::/32', undefined],
    ['64:ff9b::192.0.2.0/120', undefined],
    ['64:ff9b::192.0.2.1/120', 'has bits set past its /120 (the network is 64:ff9b::c000:200/120)'],
    ['192.0.2.1/24', 'has bits set past its /24 (the network is 192.0.2.0/24)'],
    ['192.0.2.0/33', 'expected a prefix length from 0 to 32'],
    ['192.0.2.0/024', 'expected a prefix length from 0 to 32'],
    ['192.0.2.0/', 'expected a prefix length from 0 to 32'],
    ['192.0.2.0/-1', 'expected a prefix length from 0 to 32'],
    ['2001:db8::/129', 'expected a prefix length from 0 to 128'],
    ['192.0.2.0/24/8', 'expected a prefix length from 0 to 32'],
    ['192.0.2.0', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['192.0.02.0/24', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['256.0.0.0/8', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['１９２.0.2.0/24', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['fe80::%eth0/64', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['2001:db8:::/32', 'expected an IPv4 or IPv6 network (address/prefix)'],
    [' 192.0.2.0/24', 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['', 'expected an IPv4 or IPv6 network (address/prefix)'],
    [`${'1'.repeat(10_000)}/8`, 'expected an IPv4 or IPv6 network (address/prefix)'],
    ['::ffff:c000:200/120', 'expected an IPv4 network written as IPv4, not as IPv4-mapped IPv6'],
  ];
  for (const [text, problem] of cases) assert.equal(networkProblem(text), problem, text);
  assert.equal(networkProblem('192.0.2.7', { bare: true }), undefined);
  assert.equal(networkProblem('2001:db8::/32', { family: 4 }), 'expected an IPv4 network (address/prefix)');
  assert.equal(networkProblem('192.0.2.0/24', { family: 6 }), 'expected an IPv6 network (address/prefix)');
});

test('GIVEN addresses and endpoints WHEN checked THEN octets above 255, zones, the wrong family and ports outside 1 to 65535 are refused', () => {
  assert.equal(addressProblem('169.254.20.10', 4), undefined);
  assert.equal(addressProblem('169.254.20.256', 4), 'expected an IPv4 address');
  assert.equal(addressProblem('::1', 4), 'expected an IPv4 address');
  assert.equal(addressProblem('fe80::1%eth0'), 'expected an IPv4 or IPv6 address');
  const endpoints: [string, boolean, string | undefined][] = [
    ['192.0.2.53', false, undefined],
    ['[::1]', false, undefined],
    ['[::1]:53', false, undefined],
    ['192.0.2.53:0', false, 'expected a port from 1 to 65535'],
    ['[192.0.2.53]:53', false, 'expected an IPv6 address'],
    ['mail.example.net:80', true, undefined],
    ['mail.example.net:80', false, 'expected an IPv4 address'],
    ['1.2.3:80', true, 'expected an IPv4 address'],
  ];
  for (const [text, names, problem] of endpoints) assert.equal(endpointProblem(text, names), problem, text);
});

test('GIVEN exemption networks WHEN the spec and the policy server each check them THEN the spec refuses every one the policy server refuses', () => {
  const values = ['10.0.0.0/8', '10.0.0.1', '1.2.3.4/99', '10.0.0.1/8', '2001:db8::/32', '2001:db8::1/32', '::ffff:10.0.0.1', '::ffff:a00:0/104', '01.2.3.4', 'fe80::1%eth0', 'example.net'];
  for (const value of values) {
    const policy = parseNetwork(value);
    if (typeof policy === 'string') assert.notEqual(networkProblem(value, { bare: true }), undefined, value);
  }
  assert.deepEqual(problems('policy: { exempt: { networks: [1.2.3.4/99] } }'), [`spec.policy.exempt.networks[0]: "1.2.3.4/99" ${String(parseNetwork('1.2.3.4/99'))}`]);
});

test('GIVEN pod and node networks the spec takes WHEN unbound\'s configuration is rendered from them THEN none is refused there', () => {
  const networks = ['10.244.0.0/16', '0.0.0.0/0', '192.0.2.7/32', 'fd00:10::/56', '::/0', '2001:db8:ffff::/48'];
  for (const network of networks) assert.equal(networkProblem(network), undefined, network);
  const { spec } = parseSpec(`${MINIMAL}  kubernetes: { podNetworks: [${networks.map((n) => `'${n}'`).join(', ')}] }\n`);
  assert.doesNotThrow(() => unboundFiles(spec, { listen: '0.0.0.0', port: 53 }));
});
