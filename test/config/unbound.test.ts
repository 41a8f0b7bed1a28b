import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNBOUND_CONF, unboundFiles, type UnboundOptions } from '../../src/config/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = testSpec('kubernetes: { podNetworks: [10.244.0.0/16, fd00:10::/56] }');

interface Clause {
  name: string;
  options: [string, string][];
}

/** unbound.conf as clauses (`server:`, `forward-zone:`, ...) of `key: value` lines, in order. */
function clauses(text: string): Clause[] {
  const out: Clause[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const clause = /^([a-z-]+):$/.exec(line);
    if (clause) {
      out.push({ name: clause[1] as string, options: [] });
      continue;
    }
    const option = /^ {4}([a-z0-9-]+): (.*)$/.exec(line);
    assert.ok(option && out.length > 0, `not an option line: ${JSON.stringify(line)}`);
    out.at(-1)?.options.push([option[1] as string, option[2] as string]);
  }
  return out;
}

function render(opts: Partial<UnboundOptions> = {}): Clause[] {
  return clauses(unboundFiles(spec, { listen: '0.0.0.0', port: 53, ...opts })[UNBOUND_CONF] ?? '');
}

const values = (clause: Clause | undefined, key: string) => (clause?.options ?? []).filter(([k]) => k === key).map(([, v]) => v);
const value = (clause: Clause | undefined, key: string) => values(clause, key)[0];

test('GIVEN the defaults WHEN rendered THEN unbound runs in the foreground with logs on stderr and no pid file or control socket', () => {
  const [server, control] = render();
  assert.equal(value(server, 'do-daemonize'), 'no');
  assert.equal(value(server, 'use-syslog'), 'no');
  assert.equal(value(server, 'logfile'), '""');
  assert.equal(value(server, 'verbosity'), '1');
  assert.equal(value(server, 'pidfile'), '""');
  assert.deepEqual(control, { name: 'remote-control', options: [['control-enable', 'no']] });
});

test('GIVEN the defaults WHEN rendered THEN TCP limits are raised, sockets shared across threads and caches sized', () => {
  const [server] = render();
  assert.equal(value(server, 'incoming-num-tcp'), '1024');
  assert.equal(value(server, 'outgoing-num-tcp'), '256');
  assert.equal(value(server, 'tcp-idle-timeout'), '30000');
  assert.equal(value(server, 'so-reuseport'), 'yes');
  assert.equal(value(server, 'num-threads'), '2');
  assert.equal(value(server, 'msg-cache-size'), '64m');
  assert.equal(value(server, 'rrset-cache-size'), '128m');
  assert.equal(value(server, 'prefetch'), 'yes');
  assert.equal(value(server, 'serve-expired'), 'yes');
  assert.equal(value(server, 'serve-expired-ttl'), '300');
});

test('GIVEN listen and port WHEN rendered THEN unbound listens there', () => {
  const [server] = render({ listen: '127.86.0.53', port: 5353 });
  assert.deepEqual(values(server, 'interface'), ['127.86.0.53']);
  assert.equal(value(server, 'port'), '5353');
});

test('GIVEN no allow list WHEN rendered THEN only loopback and the pod networks may query, everyone else is refused', () => {
  const [server] = render();
  assert.deepEqual(values(server, 'access-control'), ['0.0.0.0/0 refuse', '::0/0 refuse', '127.0.0.0/8 allow', '::1/128 allow', '10.244.0.0/16 allow', 'fd00:10::/56 allow']);
});

test('GIVEN an allow list WHEN rendered THEN it replaces the pod networks', () => {
  const [server] = render({ allow: ['192.0.2.0/24'] });
  assert.deepEqual(values(server, 'access-control').filter((v) => v.endsWith('allow')), ['127.0.0.0/8 allow', '::1/128 allow', '192.0.2.0/24 allow']);
});

test('GIVEN no upstreams WHEN rendered THEN unbound recurses itself: no forward zone', () => {
  assert.deepEqual(render().map((c) => c.name), ['server', 'remote-control']);
  assert.equal(value(render()[0], 'do-not-query-localhost'), undefined);
});

test('GIVEN upstreams WHEN rendered THEN everything is forwarded to them, and loopback ones may be queried', () => {
  const remote = render({ upstreams: ['192.0.2.53', '2001:db8::53@5353'] });
  assert.deepEqual(remote.at(-1), { name: 'forward-zone', options: [['name', '"."'], ['forward-addr', '192.0.2.53'], ['forward-addr', '2001:db8::53@5353'], ['forward-first', 'no']] });
  assert.equal(value(remote[0], 'do-not-query-localhost'), undefined);
  assert.equal(value(render({ upstreams: ['127.86.0.54@5353'] })[0], 'do-not-query-localhost'), 'no');
});

test('GIVEN a trust anchor WHEN rendered THEN answers are validated; without one, iterator only', () => {
  assert.equal(value(render()[0], 'module-config'), '"iterator"');
  const [server] = render({ trustAnchorFile: '/usr/share/dns/root.key' });
  assert.equal(value(server, 'module-config'), '"validator iterator"');
  assert.equal(value(server, 'trust-anchor-file'), '"/usr/share/dns/root.key"');
});

test('GIVEN 3 threads WHEN rendered THEN cache slabs are the next power of two', () => {
  const [server] = render({ threads: 3 });
  for (const key of ['msg-cache-slabs', 'rrset-cache-slabs', 'infra-cache-slabs', 'key-cache-slabs']) assert.equal(value(server, key), '4', key);
});

test('GIVEN options that would break or inject into the file WHEN rendered THEN they are refused', () => {
  const bad: Partial<UnboundOptions>[] = [
    { listen: 'localhost' },
    { port: 0 },
    { port: 70000 },
    { threads: 0 },
    { threads: 1.5 },
    { upstreams: ['resolver.example.net'] },
    { upstreams: ['192.0.2.1@0'] },
    { upstreams: ['192.0.2.1\nserver:'] },
    { allow: ['10.0.0.0/33'] },
    { allow: ['10.0.0.0/8 deny'] },
    { trustAnchorFile: '/a"b' },
  ];
  for (const opts of bad) assert.throws(() => render(opts), RangeError, JSON.stringify(opts));
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  const opts = { listen: '0.0.0.0', port: 53, upstreams: ['192.0.2.53'] };
  assert.deepEqual(unboundFiles(spec, opts), unboundFiles(spec, opts));
});
