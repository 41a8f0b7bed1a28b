/**
 * The unbound config against Debian's unbound: unbound-checkconf accepts it and reads back the raised
 * limits, and a real unbound started from it forwards to an upstream (the counting DNS server from
 * src/dns on loopback), answers over UDP and TCP, and serves repeats from its cache.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { UNBOUND_CONF, UNBOUND_INCOMING_TCP_PER_THREAD, UNBOUND_OUTGOING_TCP_PER_THREAD, UNBOUND_TCP_IDLE_TIMEOUT_MS, unboundFiles, type UnboundOptions } from '../../../src/config/index.ts';
import { startAuditServer } from '../../../src/dns/index.ts';
import { testSpec } from '../../support/spec.ts';
import { findProgram, freePort, run, runAsync, startProcess, tempDir } from './tools.ts';

const UNBOUND = findProgram('unbound');
const CHECKCONF = findProgram('unbound-checkconf');
const DIG = findProgram('dig');
const UNBOUND_HOST = '127.86.0.53';
const UPSTREAM_HOST = '127.86.0.54';
/** The root zone's KSK-2017 as a DS record: a real trust anchor, read offline. */
const ROOT_DS = '. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n';

const spec = testSpec('kubernetes: { podNetworks: [10.0.0.0/8, fd00:10::/56] }');

function confFile(t: TestContext, opts: UnboundOptions, append = ''): string {
  const dir = tempDir(t, 'unbound');
  const file = join(dir, UNBOUND_CONF);
  writeFileSync(file, (unboundFiles(spec, opts)[UNBOUND_CONF] ?? '') + append);
  return file;
}

function checkconf(file: string, option?: string): string {
  const r = run(CHECKCONF as string, option ? ['-o', option, file] : [file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout.trim();
}

/** `dig` against the test unbound: the answer's addresses and the reply status. */
async function dig(port: number, name: string, tcp = false): Promise<{ status: string; addresses: string[] }> {
  const r = await runAsync(DIG as string, [`@${UNBOUND_HOST}`, '-p', String(port), name, 'A', '+tries=1', '+time=5', '+noall', '+comments', '+answer', ...(tcp ? ['+tcp'] : [])]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const status = /status: ([A-Z]+)/.exec(r.stdout)?.[1] ?? '';
  const addresses = r.stdout.split('\n').filter((l) => /\sIN\s+A\s/.test(l)).map((l) => l.trim().split(/\s+/).at(-1) ?? '');
  return { status, addresses };
}

test('GIVEN the pod config (full recursion) WHEN checked THEN unbound-checkconf accepts it and reads back the raised TCP limits', { skip: !CHECKCONF }, (t) => {
  const file = confFile(t, { listen: '0.0.0.0', port: 53 });
  checkconf(file);
  assert.equal(checkconf(file, 'incoming-num-tcp'), String(UNBOUND_INCOMING_TCP_PER_THREAD));
  assert.equal(checkconf(file, 'outgoing-num-tcp'), String(UNBOUND_OUTGOING_TCP_PER_THREAD));
  assert.equal(checkconf(file, 'tcp-idle-timeout'), String(UNBOUND_TCP_IDLE_TIMEOUT_MS));
  assert.equal(checkconf(file, 'so-reuseport'), 'yes');
  assert.equal(checkconf(file, 'serve-expired'), 'yes');
  assert.equal(checkconf(file, 'do-daemonize'), 'no');
});

test('GIVEN forwarding and DNSSEC validation WHEN checked THEN unbound-checkconf accepts it, trust anchor included', { skip: !CHECKCONF }, (t) => {
  const anchor = join(tempDir(t, 'anchor'), 'root.ds');
  writeFileSync(anchor, ROOT_DS);
  const file = confFile(t, { listen: '0.0.0.0', port: 53, upstreams: ['192.0.2.53', '2001:db8::53@5353'], threads: 4, trustAnchorFile: anchor });
  checkconf(file);
  assert.equal(checkconf(file, 'module-config'), 'validator iterator');
  assert.equal(checkconf(file, 'num-threads'), '4');
});

test('GIVEN an option unbound does not know WHEN checked THEN unbound-checkconf refuses it (the check can fail)', { skip: !CHECKCONF }, (t) => {
  const file = confFile(t, { listen: '0.0.0.0', port: 53 }, 'server:\n    incoming-num-tcpp: 10\n');
  assert.notEqual(run(CHECKCONF as string, [file]).code, 0);
});

test('GIVEN unbound running the config with an upstream WHEN queried over UDP and TCP THEN answers come from the upstream once, then from the cache', { skip: !UNBOUND || !DIG }, async (t) => {
  const upstream = await startAuditServer({ host: UPSTREAM_HOST, port: 0, existing: ['mx.example.com'] });
  t.after(() => upstream.close());
  const port = await freePort(UNBOUND_HOST);
  const file = confFile(t, { listen: UNBOUND_HOST, port, upstreams: [`${UPSTREAM_HOST}@${upstream.port}`] });
  await startProcess(t, UNBOUND as string, ['-d', '-c', file], /start of service/);

  assert.deepEqual(await dig(port, 'mx.example.com'), { status: 'NOERROR', addresses: ['127.0.0.1'] });
  assert.deepEqual(await dig(port, 'mx.example.com', true), { status: 'NOERROR', addresses: ['127.0.0.1'] });
  assert.deepEqual(await dig(port, 'nowhere.example.com', true), { status: 'NXDOMAIN', addresses: [] });
  const asked = upstream.queries().map((q) => `${q.type} ${q.name.toLowerCase()}`);
  assert.equal(asked.filter((q) => q === 'A mx.example.com.').length, 1, `upstream saw ${asked.join(', ')}`);
  assert.ok(asked.includes('A nowhere.example.com.'), `upstream saw ${asked.join(', ')}`);
});
