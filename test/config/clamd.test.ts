import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { clamdFiles, clamdStreamLimit, freshclamFiles, SIGNATURE_FILE_PATTERN, type FilterConfigInput } from '../../src/config/index.ts';
import type { PlatformSpec } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const INSTANCE = { role: 'av' as const, name: 'av-0', listen: '127.121.0.7', configDir: '/etc/mailfleet/av', dataDir: '/var/lib/mailfleet/av-0', runDir: '/run/mf/av-0', mailDir: '/srv/mail', tlsDir: '/etc/tls' };

function input(spec: PlatformSpec, signaturesDir: string | null = '/var/lib/mailfleet/clamav'): FilterConfigInput {
  return { spec, instance: INSTANCE, peers: { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] }, dkimDir: '/unused', ...(signaturesDir === null ? {} : { signaturesDir }) };
}

/** `Option value` pairs of a clamd/freshclam config; an option set twice fails the test. */
function options(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [key, ...rest] = line.split(' ');
    assert.equal(out.has(key as string), false, `${key} set twice`);
    out.set(key as string, rest.join(' '));
  }
  return out;
}

test('GIVEN an av instance WHEN rendered THEN clamd runs in the foreground on TCP only, reading the signature directory and checking it for updates', () => {
  const conf = options(clamdFiles(input(testSpec()))['clamd.conf']);
  assert.equal(conf.get('Foreground'), 'yes');
  assert.equal(conf.get('TCPAddr'), '127.121.0.7');
  assert.equal(conf.get('TCPSocket'), '3310');
  assert.equal(conf.get('LocalSocket'), undefined);
  assert.equal(conf.get('DatabaseDirectory'), '/var/lib/mailfleet/clamav');
  assert.equal(conf.get('SelfCheck'), '600');
  assert.equal(conf.get('LogFile'), undefined, 'logs to stderr, where the agent reads them');
  assert.equal(conf.get('User'), 'clamav');
  assert.equal(conf.get('AlertExceedsMax'), undefined, 'large mail is not reported as a virus');
});

test('GIVEN the message size limit WHEN rendered THEN clamd takes a stream of the largest message with its encoding', () => {
  const conf = options(clamdFiles(input(testSpec()))['clamd.conf']);
  assert.equal(conf.get('StreamMaxLength'), String(clamdStreamLimit(52_428_800)));
  assert.ok(clamdStreamLimit(52_428_800) > 52_428_800 * 4 / 3, 'base64 grows a message by a third');
});

test('GIVEN no signature directory WHEN rendered THEN it is refused: clamd never starts without signatures', () => {
  assert.throws(() => clamdFiles(input(testSpec(), null)), (err) => isMailfleetError(err, 'CONFIG_UNRENDERABLE'));
});

test('GIVEN a private mirror WHEN the updater is rendered THEN freshclam downloads from it directly; the official one through its DNS check', () => {
  const priv = options(freshclamFiles(input(testSpec('filter: { antivirus: { signatures: { mirror: "https://clamav.example.net/db", checksPerDay: 4 } } }')))['freshclam.conf']);
  assert.equal(priv.get('PrivateMirror'), 'https://clamav.example.net/db');
  assert.equal(priv.get('DatabaseMirror'), undefined);
  assert.equal(priv.get('Checks'), '4');
  assert.equal(priv.get('DatabaseDirectory'), '/var/lib/mailfleet/clamav');
  assert.equal(priv.get('Foreground'), 'yes');
  const official = options(freshclamFiles(input(testSpec('filter: { antivirus: { signatures: { mirror: "https://database.clamav.net" } } }')))['freshclam.conf']);
  assert.equal(official.get('DatabaseMirror'), 'database.clamav.net');
  assert.equal(official.get('PrivateMirror'), undefined);
  assert.throws(() => freshclamFiles(input(testSpec())), (err) => isMailfleetError(err, 'CONFIG_UNRENDERABLE'));
});

test('GIVEN file names WHEN matched THEN official and local databases count as signatures, other files do not', () => {
  for (const f of ['main.cvd', 'daily.cld', 'bytecode.cvd', 'local.hdb', 'test.hsb', 'x.ndb', 'x.ldb']) assert.ok(SIGNATURE_FILE_PATTERN.test(f), f);
  for (const f of ['freshclam.dat', 'mirrors.dat', 'tmp.cvd.part', 'README', '.hdb.swp']) assert.ok(!SIGNATURE_FILE_PATTERN.test(f), f);
});

test('GIVEN both generators WHEN rendered THEN each file name is a valid ConfigMap key', () => {
  const spec = testSpec('filter: { antivirus: { signatures: { mirror: "https://clamav.example.net" } } }');
  for (const name of [...Object.keys(clamdFiles(input(spec))), ...Object.keys(freshclamFiles(input(spec)))]) assert.match(name, /^[-._a-zA-Z0-9]+$/);
});
