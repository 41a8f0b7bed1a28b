import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { localPeers, postfixInput } from './peers.ts';

const input = (role: 'mta' | 'msa', name: string, peers: Peers, lmtpHost?: string): ConfigInput =>
  postfixInput(role, name, peers, lmtpHost === undefined ? {} : { lmtpHost });

/** The LMTP next-hop lines of the main.cf `input` renders, by name. */
function nextHop(i: ConfigInput): Record<string, string> {
  const main = roleConfigFiles(i.instance.role, i)['main.cf'] ?? '';
  return Object.fromEntries(main.split('\n').flatMap((l) => {
    const m = /^(virtual_transport|lmtp_fallback_relay) = (.*)$/.exec(l);
    return m ? [[m[1] as string, m[2] as string]] : [];
  }));
}

test('GIVEN two mtas and two proxies on one host WHEN rendered THEN each mta puts a different proxy first and the other in lmtp_fallback_relay', () => {
  const peers = localPeers(2);
  assert.deepEqual(nextHop(input('mta', 'mta-0', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.10]:24', lmtp_fallback_relay: '[127.77.3.11]:24' });
  assert.deepEqual(nextHop(input('mta', 'mta-1', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.11]:24', lmtp_fallback_relay: '[127.77.3.10]:24' });
});

test('GIVEN two msas and two proxies on one host WHEN rendered THEN the msas spread likewise', () => {
  const peers = localPeers(2);
  assert.deepEqual(nextHop(input('msa', 'msa-0', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.10]:24', lmtp_fallback_relay: '[127.77.3.11]:24' });
  assert.deepEqual(nextHop(input('msa', 'msa-1', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.11]:24', lmtp_fallback_relay: '[127.77.3.10]:24' });
});

test('GIVEN more mtas than proxies WHEN rendered THEN the ordinal wraps round and every mta still names every proxy once, in turn', () => {
  const peers = localPeers(3);
  assert.deepEqual(nextHop(input('mta', 'mta-4', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.11]:24', lmtp_fallback_relay: '[127.77.3.12]:24 [127.77.3.10]:24' });
  assert.deepEqual(nextHop(input('mta', 'mta-3', peers)), { virtual_transport: 'lmtp:inet:[127.77.3.10]:24', lmtp_fallback_relay: '[127.77.3.11]:24 [127.77.3.12]:24' });
});

test('GIVEN one proxy WHEN rendered THEN every mta delivers to it and names no fallback relay', () => {
  for (const name of ['mta-0', 'mta-1']) assert.deepEqual(nextHop(input('mta', name, localPeers(1))), { virtual_transport: 'lmtp:inet:[127.77.3.10]:24' });
});

test('GIVEN lmtpHost (the Kubernetes Service of ready proxies) WHEN rendered THEN it is the one next hop, with no fallback relay, whatever the proxy peers', () => {
  const host = 'proxy-lmtp.mail.svc.cluster.local';
  for (const role of ['mta', 'msa'] as const) {
    assert.deepEqual(nextHop(input(role, '{{mailfleet.pod.name}}', localPeers(3), host)), { virtual_transport: `lmtp:inet:[${host}]:24` });
  }
});

test('GIVEN the mta and msa WHEN rendered THEN LMTP deliveries pass the status filter that defers a proxy name that does not resolve', () => {
  for (const role of ['mta', 'msa'] as const) {
    const files = roleConfigFiles(role, input(role, `${role}-0`, localPeers(2)));
    assert.match(files['main.cf'] ?? '', /^lmtp_delivery_status_filter = regexp:\/etc\/mailfleet\/lmtp-status-filter$/m, role);
    assert.ok(files['lmtp-status-filter'], role);
  }
});

const postmap = spawnSync('postmap', ['-c', '/nonexistent-config-dir', '-q', 'x', 'static:y'], { encoding: 'utf8' });
const noPostmap = postmap.error !== undefined ? 'postmap is not installed' : false;

test('GIVEN the status filter WHEN Postfix reads it THEN a name lookup failure (5.4.4, 5.4.3) becomes 4.x.x and nothing else changes', { skip: noPostmap }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-lmtp-filter-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.cf'), 'compatibility_level = 3.6\n');
  const filter = join(dir, 'lmtp-status-filter');
  writeFileSync(filter, roleConfigFiles('mta', input('mta', 'mta-0', localPeers(1)))['lmtp-status-filter'] ?? '');
  const query = (status: string) => {
    const r = spawnSync('postmap', ['-c', dir, '-q', status, `regexp:${filter}`], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const notFound = 'Host or domain name not found. Name service error for name=proxy-lmtp.mail.svc.cluster.local type=A: Host not found';
  assert.equal(query(`5.4.4 ${notFound}`), `4.4.4 ${notFound}`);
  assert.equal(query('5.4.3 Name service error for name=proxy-lmtp.mail.svc.cluster.local type=A: Malformed or unexpected name server reply'), '4.4.3 Name service error for name=proxy-lmtp.mail.svc.cluster.local type=A: Malformed or unexpected name server reply');
  // Unchanged: an unknown user, a proxy's own refusal, a deferral, a success.
  for (const kept of ['5.1.1 <a@example.com> User unknown', '5.4.1 relay refused', '4.4.1 connect to 127.77.3.10[127.77.3.10]:24: Connection refused', '2.0.0 Ok']) {
    assert.equal(query(kept), undefined, kept);
  }
});
