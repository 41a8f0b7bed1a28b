/**
 * The real glibc resolver against the counting server: `getent ahosts NAME` in a private mount
 * namespace with a generated resolv.conf bind-mounted over /etc/resolv.conf (see src/dns/observe.ts).
 * Needs root (unshare, mount, port 53). Each observation starts and stops its own server on
 * 127.53.1.1:53 and waits for getent to exit, so nothing is left running.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname, networkInterfaces } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KUBERNETES_DEFAULT_SEARCH } from '../../../src/dns/kubernetes.ts';
import { observeProblems, observeResolver } from '../../../src/dns/observe.ts';
import { parseResolvConf } from '../../../src/dns/resolv-conf.ts';
import { addrconfigTypes, predictQueries } from '../../../src/dns/search.ts';

const SERVER = '127.53.1.1';
const MX = 'mx.example.co.jp';
const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const KUBERNETES_DEFAULT = `nameserver 10.96.0.10\nsearch ${KUBERNETES_DEFAULT_SEARCH.join(' ')}\noptions ndots:5\n`;
const MAILFLEET_RENDERED = `nameserver 10.96.0.10\nsearch ${KUBERNETES_DEFAULT_SEARCH.join(' ')}\noptions ndots:1\n`;
/** getent ahosts sets AI_ADDRCONFIG: the types glibc asks for on this host. */
const TYPES = addrconfigTypes(networkInterfaces());

async function observe(text: string, name: string, existing: readonly string[] = [name]) {
  const conf = parseResolvConf(text, { hostname: hostname() });
  const observation = await observeResolver({ name, conf, serverHost: SERVER, existing });
  const prediction = predictQueries(conf, name, { existing, types: TYPES });
  return {
    observed: observation.queries.map((q) => `${q.type} ${q.name}`),
    transports: [...new Set(observation.queries.map((q) => q.transport))],
    predicted: prediction.queries.map((q) => `${q.type} ${q.name}`),
    exitCode: observation.exitCode,
    addresses: observation.addresses,
  };
}

test('GIVEN this host WHEN --observe prerequisites are checked THEN root, unshare, mount and getent are all there', () => {
  assert.deepEqual(observeProblems(), []);
});

test('GIVEN this host WHEN getaddrinfo applies AI_ADDRCONFIG THEN it still asks for A and AAAA (eth0 has IPv4 and IPv6)', () => {
  // getent ahosts passes AI_ADDRCONFIG. On a host with only one non-loopback family glibc narrows
  // AF_UNSPEC to that family and sends one query per name (6 and 1 instead of 12 and 2); the
  // prediction models that, but the 12/2 numbers below are for a dual-stack host like this one.
  assert.deepEqual(TYPES, ['A', 'AAAA']);
});

test(`GIVEN the Kubernetes default resolv.conf (ndots:5, 5 search domains) WHEN glibc resolves ${MX} THEN it sends 12 queries, as predicted`, async () => {
  const r = await observe(KUBERNETES_DEFAULT, MX);
  assert.equal(r.observed.length, 12);
  assert.deepEqual(r.observed, [
    ...KUBERNETES_DEFAULT_SEARCH.flatMap((domain) => [`A ${MX}.${domain}.`, `AAAA ${MX}.${domain}.`]),
    `A ${MX}.`,
    `AAAA ${MX}.`,
  ]);
  assert.deepEqual(r.observed, r.predicted);
  assert.equal(r.exitCode, 0);
  assert.deepEqual([...r.addresses].sort(), ['127.0.0.1', '::1']);
});

test(`GIVEN the resolv.conf rendered from mailfleet dnsConfig (ndots:1) WHEN glibc resolves ${MX} THEN it sends 2 queries, as predicted`, async () => {
  const r = await observe(MAILFLEET_RENDERED, MX);
  assert.deepEqual(r.observed, [`A ${MX}.`, `AAAA ${MX}.`]);
  assert.deepEqual(r.observed, r.predicted);
  assert.equal(r.exitCode, 0);
});

const LONG_DOMAIN = ['y'.repeat(63), 'y'.repeat(63), 'y'.repeat(63)].join('.');
const LONG_NAME = `${'h'.repeat(60)}.example`;

/** Edge cases of glibc's search rules: each observed sequence must equal the prediction. */
const CASES: readonly { given: string; text: string; name: string; existing?: string[]; count: number; transport?: string }[] = [
  { given: 'use-vc (TCP)', text: 'search a.test b.test\noptions ndots:5 use-vc\n', name: MX, count: 6, transport: 'tcp' },
  { given: 'single-request', text: 'search a.test b.test\noptions ndots:5 single-request\n', name: MX, count: 6 },
  { given: 'single-request-reopen', text: 'search a.test b.test\noptions ndots:5 single-request-reopen\n', name: MX, count: 6 },
  { given: 'no-aaaa', text: 'search a.test b.test\noptions ndots:5 no-aaaa\n', name: MX, count: 3 },
  { given: 'attempts:0', text: 'search a.test\noptions ndots:5 attempts:0 timeout:1\n', name: MX, count: 0 },
  { given: 'a trailing dot under ndots:5', text: 'search a.test b.test\noptions ndots:5\n', name: `${MX}.`, count: 2 },
  { given: 'a single label', text: 'search a.test b.test\n', name: 'mailhost', count: 6 },
  { given: 'a single label and no-tld-query', text: 'search a.test b.test\noptions no-tld-query\n', name: 'mailhost', count: 4 },
  { given: 'the root in the search list', text: 'search a.test . b.test\noptions ndots:5\n', name: 'mx.example', existing: [], count: 6 },
  { given: 'a search domain with a leading dot', text: 'search .a.test\noptions ndots:5\n', name: 'mx.example', count: 4 },
  { given: 'ndots:-1 (wraps to 15)', text: 'search a.test\noptions ndots:-1\n', name: 'a.b.c.d.e.f.g.h.i.j.k.l.m.n', count: 4 },
  { given: 'ndots:4294967297 (int overflow, 1)', text: 'search a.test\noptions ndots:4294967297\n', name: 'mx.example', count: 2 },
  { given: 'a search candidate too long to send', text: `search a.test ${LONG_DOMAIN} b.test\noptions ndots:5\n`, name: LONG_NAME, count: 4 },
  { given: 'a search entry with an empty label', text: 'search a..test b.test\noptions ndots:5\n', name: 'mx.example', count: 2 },
  { given: 'a name found under a search domain', text: 'search a.test b.test\noptions ndots:5\n', name: 'mx', existing: ['mx.b.test'], count: 4 },
  { given: 'a domain line after a search line', text: 'search a.test b.test\ndomain c.test\n', name: 'mx', count: 4 },
  { given: 'a name that exists nowhere', text: 'search a.test b.test\n', name: 'mx.example', existing: [], count: 6 },
  { given: 'CRLF line ends (the CR ends up in the query name as \\013)', text: 'search a.test\r\noptions ndots:5\r\n', name: 'mx.example', count: 4 },
];

for (const c of CASES) {
  test(`GIVEN ${c.given} WHEN glibc resolves ${c.name.slice(0, 40)} THEN it sends ${c.count} queries, as predicted`, async () => {
    const r = await observe(c.text, c.name, c.existing);
    assert.deepEqual(r.observed, r.predicted);
    assert.equal(r.observed.length, c.count);
    if (c.count > 0) assert.deepEqual(r.transports, [c.transport ?? 'udp']);
  });
}

test(`GIVEN mailfleet dns audit --observe --json WHEN run THEN every profile was observed as predicted: 12 for Kubernetes, 2 for mailfleet`, () => {
  const script = `import { dnsCommand } from './src/cli/dns.ts'; process.exitCode = await dnsCommand(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'audit', MX, '--observe', '--json'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { observed: boolean; profiles: { id: string; observed: { total: number; matchesPrediction: boolean } }[] };
  assert.equal(report.observed, true);
  const byId = Object.fromEntries(report.profiles.map((p) => [p.id, p.observed]));
  assert.deepEqual(byId['kubernetes-default'], { ...byId['kubernetes-default'], total: 12, matchesPrediction: true });
  assert.deepEqual(byId.mailfleet, { ...byId.mailfleet, total: 2, matchesPrediction: true });
  assert.equal(byId['resolv-conf']?.matchesPrediction, true);
});

test('GIVEN a user other than root WHEN mailfleet dns audit --observe runs THEN it fails with NOT_ROOT before touching anything', () => {
  const script = `import { dnsCommand } from './src/cli/dns.ts';
try { process.exitCode = await dnsCommand(process.argv.slice(1)); } catch (err) { process.stderr.write(err.code + ': ' + err.message); process.exitCode = 1; }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'audit', MX, '--observe'], { cwd: REPO, encoding: 'utf8', uid: 65534, gid: 65534, timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^NOT_ROOT: cannot observe the resolver/);
  assert.equal(r.stdout, '');
});
