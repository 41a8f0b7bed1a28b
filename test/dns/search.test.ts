import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseResolvConf } from '../../src/dns/resolv-conf.ts';
import { addrconfigTypes, hostNameProblem, parseHostName, predictQueries, type PredictOptions } from '../../src/dns/search.ts';
import { isMailfleetError } from '../../src/errors.ts';

const K8S_SEARCH = 'mail.svc.cluster.local svc.cluster.local cluster.local example.internal corp.example.internal';

/** Queries as `TYPE name` strings: easy to read in a table. */
function predict(text: string, name: string, options?: PredictOptions): string[] {
  return predictQueries(parseResolvConf(text), name, options).queries.map((q) => `${q.type} ${q.name}`);
}

function both(...names: string[]): string[] {
  return names.flatMap((name) => [`A ${name}`, `AAAA ${name}`]);
}

test('GIVEN the Kubernetes default (ndots:5, 5 search domains) WHEN mx.example.co.jp is looked up THEN it costs 12 queries, the absolute name last', () => {
  const queries = predict(`search ${K8S_SEARCH}\noptions ndots:5\n`, 'mx.example.co.jp');
  assert.deepEqual(queries, both(...K8S_SEARCH.split(' ').map((d) => `mx.example.co.jp.${d}.`), 'mx.example.co.jp.'));
  assert.equal(queries.length, 12);
});

test('GIVEN mailfleet dnsConfig (ndots:1, same search list) WHEN mx.example.co.jp is looked up THEN it costs 2 queries', () => {
  assert.deepEqual(predict(`search ${K8S_SEARCH}\noptions ndots:1\n`, 'mx.example.co.jp'), both('mx.example.co.jp.'));
});

const CASES: readonly { given: string; text: string; name: string; options?: PredictOptions; expected: string[]; resolvedAs?: string }[] = [
  { given: 'a trailing dot under ndots:5', text: 'search a.test b.test\noptions ndots:5\n', name: 'mx.example.co.jp.', expected: both('mx.example.co.jp.'), resolvedAs: 'mx.example.co.jp.' },
  {
    given: 'a trailing dot and a name that does not exist',
    text: 'search a.test\noptions ndots:5\n',
    name: 'mx.example.',
    options: { existing: [] },
    expected: both('mx.example.'),
  },
  { given: 'exactly ndots dots', text: 'search a.test\noptions ndots:3\n', name: 'mx.example.co.jp', expected: both('mx.example.co.jp.') },
  {
    given: 'one dot fewer than ndots',
    text: 'search a.test\noptions ndots:4\n',
    name: 'mx.example.co.jp',
    expected: both('mx.example.co.jp.a.test.', 'mx.example.co.jp.'),
  },
  {
    given: 'a name tried as-is first that does not exist',
    text: 'search a.test b.test\n',
    name: 'mx.example',
    options: { existing: ['mx.example.b.test'] },
    expected: both('mx.example.', 'mx.example.a.test.', 'mx.example.b.test.'),
    resolvedAs: 'mx.example.b.test.',
  },
  { given: 'a single label', text: 'search a.test b.test\n', name: 'mailhost', expected: both('mailhost.a.test.', 'mailhost.b.test.', 'mailhost.'), resolvedAs: 'mailhost.' },
  {
    given: 'a single label with no-tld-query',
    text: 'search a.test b.test\noptions no-tld-query\n',
    name: 'mailhost',
    expected: both('mailhost.a.test.', 'mailhost.b.test.'),
  },
  { given: 'a single label, no-tld-query and no search list', text: 'options no-tld-query\n', name: 'mailhost', expected: both('mailhost.'), resolvedAs: 'mailhost.' },
  { given: 'a dotted name with no-tld-query', text: 'search a.test\noptions ndots:5 no-tld-query\n', name: 'mx.example', expected: both('mx.example.a.test.', 'mx.example.') },
  {
    given: 'the root in the search list (the as-is try happens there, not again at the end)',
    text: 'search a.test . b.test\noptions ndots:5\n',
    name: 'mx.example',
    options: { existing: [] },
    expected: both('mx.example.a.test.', 'mx.example.', 'mx.example.b.test.'),
  },
  { given: 'a search domain with a leading dot', text: 'search .a.test\noptions ndots:5\n', name: 'mx.example', expected: both('mx.example.a.test.', 'mx.example.') },
  { given: 'no-aaaa', text: 'search a.test\noptions ndots:5 no-aaaa\n', name: 'mx.example', expected: ['A mx.example.a.test.', 'A mx.example.'] },
  { given: 'AI_ADDRCONFIG on an IPv4-only host', text: 'search a.test\noptions ndots:5\n', name: 'mx.example', options: { types: ['A'] }, expected: ['A mx.example.a.test.', 'A mx.example.'] },
  { given: 'attempts:0 (no round over the name servers)', text: 'search a.test\noptions attempts:0\n', name: 'mx.example', expected: [] },
  {
    given: 'a search candidate too long to encode (it ends the search list)',
    text: `search a.test ${['y'.repeat(63), 'y'.repeat(63), 'y'.repeat(63)].join('.')} b.test\noptions ndots:5\n`,
    name: `${'h'.repeat(60)}.example`,
    expected: both(`${'h'.repeat(60)}.example.a.test.`, `${'h'.repeat(60)}.example.`),
  },
  {
    given: 'a search entry with an empty label (unsendable)',
    text: 'search a..test b.test\noptions ndots:5\n',
    name: 'mx.example',
    expected: both('mx.example.'),
  },
  {
    given: 'a name that exists nowhere',
    text: 'search a.test b.test\n',
    name: 'mx.example',
    options: { existing: [] },
    expected: both('mx.example.', 'mx.example.a.test.', 'mx.example.b.test.'),
  },
  { given: 'existing names in another case', text: 'search A.Test\noptions ndots:5\n', name: 'MX.example', options: { existing: ['mx.example.a.test.'] }, expected: both('MX.example.A.Test.'), resolvedAs: 'MX.example.A.Test.' },
];

for (const c of CASES) {
  test(`GIVEN ${c.given} WHEN predicted THEN the queries follow glibc's search order`, () => {
    const prediction = predictQueries(parseResolvConf(c.text), c.name, c.options);
    assert.deepEqual(prediction.queries.map((q) => `${q.type} ${q.name}`), c.expected);
    if (c.resolvedAs !== undefined) assert.equal(prediction.resolvedAs, c.resolvedAs);
    if (c.options?.existing !== undefined && [...c.options.existing].length === 0) assert.equal(prediction.resolvedAs, undefined);
  });
}

test('GIVEN single-request WHEN predicted THEN the queries are the same but not sent in parallel', () => {
  const parallel = predictQueries(parseResolvConf('search a.test\noptions ndots:5\n'), 'mx.example');
  const serial = predictQueries(parseResolvConf('search a.test\noptions ndots:5 single-request\n'), 'mx.example');
  assert.deepEqual(serial.queries, parallel.queries);
  assert.equal(parallel.parallel, true);
  assert.equal(serial.parallel, false);
});

test('GIVEN an unencodable search candidate WHEN predicted THEN it is listed as a candidate that was not sent', () => {
  const prediction = predictQueries(parseResolvConf('search a..test\noptions ndots:5\n'), 'mx.example');
  assert.deepEqual(prediction.candidates, [
    { name: 'mx.example.a..test.', outcome: 'unsendable' },
    { name: 'mx.example.', outcome: 'resolved' },
  ]);
});

function iface(family: 'IPv4' | 'IPv6', address: string): NetworkInterfaceInfo {
  return family === 'IPv4'
    ? { family, address, netmask: '255.0.0.0', mac: '00:00:00:00:00:00', internal: false, cidr: null }
    : { family, address, netmask: 'ffff::', mac: '00:00:00:00:00:00', internal: false, cidr: null, scopeid: 0 };
}

const ADDRCONFIG: readonly { given: string; interfaces: NetworkInterfaceInfo[]; types: string[] }[] = [
  { given: 'IPv4 and IPv6 addresses', interfaces: [iface('IPv4', '192.0.2.2'), iface('IPv6', 'fd00::2')], types: ['A', 'AAAA'] },
  { given: 'only IPv4 (plus loopback)', interfaces: [iface('IPv4', '127.0.0.1'), iface('IPv6', '::1'), iface('IPv4', '192.0.2.2')], types: ['A'] },
  { given: 'only IPv6, link-local counting', interfaces: [iface('IPv4', '127.0.0.1'), iface('IPv6', 'fe80::1')], types: ['AAAA'] },
  { given: 'only loopback', interfaces: [iface('IPv4', '127.0.0.1'), iface('IPv6', '::1')], types: ['A', 'AAAA'] },
  { given: 'another 127/8 address (glibc ignores only 127.0.0.1)', interfaces: [iface('IPv4', '127.53.0.1')], types: ['A'] },
];

for (const c of ADDRCONFIG) {
  test(`GIVEN a host with ${c.given} WHEN AI_ADDRCONFIG applies THEN getaddrinfo asks for ${c.types.join(' and ')}`, () => {
    assert.deepEqual(addrconfigTypes({ eth0: c.interfaces }), c.types);
  });
}

const NAMES: readonly { name: string; problem?: RegExp }[] = [
  { name: 'mx.example.co.jp' },
  { name: 'mx.example.co.jp.' },
  { name: 'mailhost' },
  { name: '_smtp._tcp.example' },
  { name: '', problem: /empty/ },
  { name: '.', problem: /empty/ },
  { name: 'mx..example', problem: /empty label/ },
  { name: '.mx', problem: /empty label/ },
  { name: `${'a'.repeat(64)}.example`, problem: /not 1 to 63/ },
  { name: Array.from({ length: 60 }, () => 'abcd').join('.'), problem: /at most 253/ },
  { name: 'mx example', problem: /not 1 to 63 letters/ },
  { name: '-rf', problem: undefined },
  { name: 'mx\u0000.example', problem: /not 1 to 63 letters/ },
  { name: '192.0.2.1', problem: /address literal/ },
  { name: '10.1', problem: /address literal/ },
  { name: '::1', problem: /address literal/ },
];

for (const c of NAMES) {
  test(`GIVEN ${JSON.stringify(c.name)} WHEN checked as a host name THEN it is ${c.problem ? 'refused' : 'accepted'}`, () => {
    const problem = hostNameProblem(c.name);
    if (c.problem === undefined) assert.equal(problem, undefined);
    else assert.match(problem ?? '', c.problem);
  });
}

test('GIVEN an invalid name WHEN parsed THEN DNS_NAME_INVALID is thrown', () => {
  assert.throws(() => parseHostName('mx..example'), (err) => isMailfleetError(err, 'DNS_NAME_INVALID'));
});
