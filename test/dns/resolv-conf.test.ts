import assert from 'node:assert/strict';
import { test } from 'node:test';
import { atoi, inetAton, parseResolvConf, renderResolvConf, type ResolvConf } from '../../src/dns/resolv-conf.ts';

function pick(conf: ResolvConf): Record<string, unknown> {
  const flags = Object.entries(conf.flags).filter(([, on]) => on).map(([flag]) => flag);
  return { nameservers: conf.nameservers, search: conf.search, source: conf.searchSource, ndots: conf.ndots, timeout: conf.timeoutSeconds, attempts: conf.attempts, flags };
}

interface Settings {
  nameservers: string[];
  search: string[];
  source: string;
  ndots: number;
  timeout: number;
  attempts: number;
  flags: string[];
}

const DEFAULTS: Settings = { nameservers: ['127.0.0.1'], search: [], source: 'none', ndots: 1, timeout: 5, attempts: 2, flags: [] };

const CASES: readonly { given: string; text: string; hostname?: string; expected: Partial<Settings> }[] = [
  { given: 'an empty file', text: '', expected: {} },
  {
    given: 'a Kubernetes pod file',
    text: 'search mail.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n',
    expected: { nameservers: ['10.96.0.10'], search: ['mail.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], source: 'search', ndots: 5 },
  },
  { given: 'search then domain (the last wins)', text: 'search a.test b.test\ndomain c.test\n', expected: { search: ['c.test'], source: 'domain' } },
  { given: 'domain then search (the last wins)', text: 'domain c.test\nsearch a.test b.test\n', expected: { search: ['a.test', 'b.test'], source: 'search' } },
  { given: 'a domain line with trailing words', text: 'domain c.test d.test\n', expected: { search: ['c.test'], source: 'domain' } },
  { given: 'an empty search line after a good one (ignored)', text: 'search a.test\nsearch   \n', expected: { search: ['a.test'], source: 'search' } },
  { given: 'search separated by tabs and runs of spaces', text: 'search\ta.test  \t b.test \n', expected: { search: ['a.test', 'b.test'], source: 'search' } },
  { given: 'a comment after the search list (glibc keeps it as entries)', text: 'search a.test # note\n', expected: { search: ['a.test', '#', 'note'], source: 'search' } },
  { given: 'CRLF line ends (the CR stays in the last entry, as in glibc)', text: 'search a.test\r\noptions ndots:3\r\n', expected: { search: ['a.test\r'], source: 'search', ndots: 3 } },
  { given: 'comment lines', text: '# search a.test\n; options ndots:9\n', expected: {} },
  { given: 'an indented keyword (not matched by glibc)', text: ' search a.test\n\toptions ndots:4\n', expected: {} },
  { given: 'a keyword without a blank after it', text: 'searcha.test\nnameserver\n', expected: {} },
  { given: 'unknown lines and sortlist', text: 'lookup file bind\nsortlist 10.0.0.0/8\nfrobnicate yes\n', expected: {} },
  {
    given: 'four name servers, IPv4 shorthand, IPv6 with scope and junk',
    text: 'nameserver 10.1\nnameserver fe80::1%eth0\nnameserver bogus\nnameserver 192.0.2.1 # primary\nnameserver 192.0.2.2\n',
    expected: { nameservers: ['10.0.0.1', 'fe80::1%eth0', '192.0.2.1'] },
  },
  { given: 'ndots over the maximum', text: 'options ndots:99\n', expected: { ndots: 15 } },
  { given: 'a negative ndots (wraps in the 4-bit field)', text: 'options ndots:-1\n', expected: { ndots: 15 } },
  { given: 'ndots that overflows an int', text: 'options ndots:4294967297\n', expected: { ndots: 1 } },
  { given: 'ndots without digits', text: 'options ndots:x\n', expected: { ndots: 0 } },
  { given: 'ndots with a space before the value (atoi skips it)', text: 'options ndots: 4\n', expected: { ndots: 4 } },
  { given: 'several options lines (each applies)', text: 'options ndots:2\noptions attempts:3 timeout:1\n', expected: { ndots: 2, attempts: 3, timeout: 1 } },
  { given: 'timeout and attempts over their maxima', text: 'options timeout:99 attempts:9\n', expected: { timeout: 30, attempts: 5 } },
  { given: 'attempts:0', text: 'options attempts:0\n', expected: { attempts: 0 } },
  {
    given: 'every flag',
    text: 'options rotate edns0 single-request-reopen single-request no-tld-query no-reload use-vc trust-ad no-aaaa\n',
    expected: { flags: ['rotate', 'edns0', 'singleRequestReopen', 'singleRequest', 'noTldQuery', 'noReload', 'useVc', 'trustAd', 'noAaaa'] },
  },
  { given: 'flags matched by prefix, and the old spelling', text: 'options rotatexyz no_tld_query inet6 debug\n', expected: { flags: ['rotate', 'noTldQuery'] } },
  { given: 'no search line and a dotted host name', text: '', hostname: 'node1.corp.example.internal', expected: { search: ['corp.example.internal'], source: 'hostname' } },
  { given: 'no search line and a plain host name', text: '', hostname: 'node1', expected: {} },
  { given: 'a search line and a dotted host name', text: 'search a.test\n', hostname: 'node1.corp.example', expected: { search: ['a.test'], source: 'search' } },
  { given: 'binary noise', text: '\u0000\u00ff\n\u0001search\u0000\n', expected: {} },
];

for (const c of CASES) {
  test(`GIVEN ${c.given} WHEN parsed THEN the resolver settings are glibc's`, () => {
    const conf = parseResolvConf(c.text, c.hostname === undefined ? {} : { hostname: c.hostname });
    assert.deepEqual(pick(conf), { ...DEFAULTS, ...c.expected });
  });
}

test('GIVEN a parsed file WHEN rendered with another name server and parsed again THEN only the name server differs', () => {
  const conf = parseResolvConf('nameserver 10.96.0.10\nsearch a.test .\noptions ndots:5 timeout:1 attempts:0 rotate use-vc no-aaaa\n');
  const text = renderResolvConf(conf, ['127.53.0.1']);
  assert.equal(text, 'nameserver 127.53.0.1\nsearch a.test .\noptions ndots:5 timeout:1 attempts:0 rotate use-vc no-aaaa\n');
  assert.deepEqual(pick(parseResolvConf(text)), { ...pick(conf), nameservers: ['127.53.0.1'] });
});

test('GIVEN a long search line WHEN parsed THEN every entry is kept (glibc 2.26+ has no 6-entry limit)', () => {
  const domains = Array.from({ length: 40 }, (_, i) => `d${i}.example.internal`);
  assert.deepEqual(parseResolvConf(`search ${domains.join(' ')}\n`).search, domains);
});

const ATOI: readonly [string, number][] = [['5', 5], ['  7x', 7], ['-3', -3], ['+2', 2], ['', 0], ['x1', 0], ['99999999999999999999999', -1], ['4294967296', 0]];
for (const [text, value] of ATOI) {
  test(`GIVEN ${JSON.stringify(text)} WHEN read by atoi THEN it is ${value}`, () => assert.equal(atoi(text), value));
}

const ATON: readonly [string, string | undefined][] = [
  ['192.0.2.1', '192.0.2.1'], ['10.1', '10.0.0.1'], ['0x7f.1', '127.0.0.1'], ['017.0.0.1', '15.0.0.1'], ['192.0.2.1 trailing', '192.0.2.1'],
  ['256.0.0.1', undefined], ['1.2.3.4.5', undefined], ['08.0.0.1', undefined], ['fe80::1', undefined], ['', undefined],
];
for (const [text, value] of ATON) {
  test(`GIVEN ${JSON.stringify(text)} WHEN read by inet_aton THEN it is ${value ?? 'refused'}`, () => assert.equal(inetAton(text), value));
}
