import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { PUBLIC_LIST_MODULES, rspamdArguments, rspamdFiles, type FilterConfigInput, type Peers } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const SECRETS = { redisPassword: 'test-redis-$ecret-0123', filterControllerPassword: 'test-rspamd-$ecret-0123' };

const PEERS: Peers = {
  ldap: [], kvs: [{ name: 'kvs-0', host: 'kvs-0.kvs' }], mailbox: [], proxy: [], mta: [], msa: [],
};

const INSTANCE = { role: 'as' as const, name: 'as-0', listen: '127.121.0.5', configDir: '/etc/mailfleet/as', dataDir: '/var/lib/mailfleet/as-0', runDir: '/run/mf/as-0', mailDir: '/srv/mail', tlsDir: '/etc/tls' };

function files(spec: PlatformSpec = testSpec(), peers: Peers = PEERS): Record<string, string> {
  const input: FilterConfigInput = { spec: withSecrets(spec, SECRETS), instance: INSTANCE, peers, dkimDir: '/var/lib/mailfleet/dkim' };
  return rspamdFiles(input);
}

/** The lines of a generated file, trimmed, without comments and blank lines. */
const lines = (text: string | undefined): string[] => (text ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

test('GIVEN an as instance WHEN rendered THEN rspamd.conf takes the stock rules and defines only the milter (self-scan) and the controller, on the instance address', () => {
  const conf = lines(files()['rspamd.conf']);
  assert.equal(conf[0], '.include "$CONFDIR/common.conf"');
  assert.ok(conf.includes('worker "rspamd_proxy" {'));
  assert.ok(conf.includes('bind_socket = "127.121.0.5:11332";'));
  assert.ok(conf.includes('milter = yes;'));
  assert.ok(conf.includes('self_scan = yes;'), 'the default upstream scans itself');
  assert.ok(conf.includes('upstream "local" {'));
  assert.ok(conf.includes('count = 2;'));
  assert.ok(conf.includes('bind_socket = "127.121.0.5:11334";'));
  assert.ok(!conf.some((l) => l.startsWith('worker "normal"') || l.startsWith('worker "fuzzy"')), 'no normal or fuzzy worker');
  assert.ok(conf.includes('type = "console";'), 'logs to the console (the agent relays them)');
});

test('GIVEN generated secrets WHEN rendered THEN they are UCL literals (single quotes: a $ in them is no variable)', () => {
  const all = files();
  const conf = lines(all['rspamd.conf']);
  assert.ok(conf.includes("password = 'test-rspamd-$ecret-0123';"));
  assert.ok(conf.includes("enable_password = 'test-rspamd-$ecret-0123';"));
  assert.ok(lines(all['redis.conf']).includes("password = 'test-redis-$ecret-0123';"));
});

test('GIVEN a secret with a quote WHEN rendered THEN it is refused rather than written broken', () => {
  assert.throws(() => files(withSecrets(testSpec(), { filterControllerPassword: "it's-a-secret-0123456" })), (err) => isMailfleetError(err, 'CONFIG_UNRENDERABLE') && !err.message.includes('secret-0123456'));
});

test('GIVEN the kvs peer WHEN rendered THEN Redis is reached through the instance\'s agent on a socket in its run dir (the agent carries it over TLS to the kvs), authenticated, in database 1', () => {
  assert.deepEqual(lines(files()['redis.conf']), ['servers = "/run/mf/as-0/redis-relay.sock";', "password = 'test-redis-$ecret-0123';", 'db = "1";', 'timeout = 1s;']);
  assert.equal(files(testSpec(), { ...PEERS, kvs: [] })['redis.conf'], undefined, 'no kvs, no Redis');
});

test('GIVEN the default actions WHEN rendered THEN the thresholds are 15, 6 and 4, and DMARC p=reject is enforced', () => {
  const all = files();
  assert.deepEqual(lines(all['actions.conf']), ['reject = 15;', 'add_header = 6;', 'greylist = 4;']);
  const dmarc = lines(all['dmarc.conf']);
  assert.ok(dmarc.includes('reject = "reject";'));
  assert.ok(dmarc.includes('quarantine = "add header";'));
  assert.ok(!lines(files(testSpec('filter: { enforceDmarc: false }'))['dmarc.conf']).some((l) => l.includes('reject')));
});

test('GIVEN loopback clients (the single host) WHEN rendered THEN SPF, DKIM and DMARC check them too, and they get the headers', () => {
  const all = files();
  for (const f of ['spf', 'dkim', 'dmarc']) assert.ok(lines(all[`${f}.conf`]).includes('check_local = true;'), f);
  const headers = lines(all['milter_headers.conf']);
  assert.ok(headers.includes('use = ["authentication-results", "x-spam-status"];'));
  assert.ok(headers.includes('skip_local = false;'));
  assert.ok(headers.includes('skip_authenticated = true;'));
});

test('GIVEN the DKIM directory WHEN rendered THEN only authenticated mail is signed, with the selector the map names for the From domain', () => {
  const dkim = lines(files()['dkim_signing.conf']);
  for (const l of ['sign_authenticated = true;', 'sign_local = false;', 'sign_inbound = false;', 'use_domain = "header";', 'try_fallback = false;', 'allow_username_mismatch = false;']) {
    assert.ok(dkim.includes(l), l);
  }
  assert.ok(dkim.includes('path = "/var/lib/mailfleet/dkim/$domain.$selector.key";'));
  assert.ok(dkim.includes('selector_map = "/var/lib/mailfleet/dkim/selectors.map";'));
  assert.ok(lines(files()['arc.conf']).includes('sign_inbound = false;'), 'ARC is checked, never signed');
});

test('GIVEN no av peer WHEN rendered THEN the antivirus module is not configured; GIVEN av peers THEN clamd is asked and a virus refused, named', () => {
  assert.equal(files()['antivirus.conf'], undefined);
  const av = lines(files(testSpec(), { ...PEERS, av: [{ name: 'av-0', host: '127.121.0.7' }, { name: 'av-1', host: 'fd00::7' }] })['antivirus.conf']);
  assert.ok(av.includes('servers = "127.121.0.7:3310,[fd00::7]:3310";'));
  assert.ok(av.includes('action = "reject";'));
  assert.ok(av.includes('message = \'${SCANNER}: virus found: "${VIRUS}"\';'));
  assert.ok(av.includes('max_size = 52428800;'));
  const headers = lines(files(testSpec(), { ...PEERS, av: [{ name: 'av', host: 'av' }] })['milter_headers.conf']);
  assert.ok(headers.includes('use = ["authentication-results", "x-spam-status", "x-virus"];'));
});

test('GIVEN publicLists off WHEN rendered THEN every module that reaches the Internet by itself is disabled; on (default) THEN none is touched', () => {
  const off = files(testSpec('filter: { publicLists: false }'));
  for (const m of PUBLIC_LIST_MODULES) assert.deepEqual(lines(off[`${m}.conf`]), ['enabled = false;'], m);
  assert.deepEqual(lines(off['override.mime_types.conf']), ['file = ["${CONFDIR}/maps.d/mime_types.inc"];'], 'the package\'s copy, not maps.rspamd.com');
  assert.ok(lines(off['override.mid.conf']).includes('url = ["${CONFDIR}/maps.d/mid.inc"];'));
  const on = files();
  for (const m of PUBLIC_LIST_MODULES) assert.equal(on[`${m}.conf`], undefined, m);
  for (const m of ['mime_types', 'mid']) assert.equal(on[`override.${m}.conf`], undefined, m);
});

test('GIVEN resolvers, test patterns and greylisting off WHEN rendered THEN the options and greylist files say so', () => {
  const all = files(testSpec("filter: { nameservers: ['127.121.0.53:5353'], testPatterns: true, greylisting: { enabled: false } }"));
  const options = lines(all['options.inc']);
  assert.ok(options.includes('dns { nameserver = ["127.121.0.53:5353"]; }'));
  assert.ok(options.includes('enable_test_patterns = true;'));
  assert.ok(options.includes('max_message = 52428800;'));
  assert.ok(options.includes('control_socket = "/run/mf/as-0/rspamd.sock mode=0600";'));
  assert.equal(lines(all['greylist.conf'])[0], 'enabled = false;');
  assert.deepEqual(lines(files()['greylist.conf']), ['enabled = true;', 'timeout = 300s;', 'expire = 86400s;', 'check_local = true;', 'check_authed = false;']);
  assert.ok(!lines(files()['options.inc']).some((l) => l.startsWith('dns')), 'no resolvers given: resolv.conf');
});

test('GIVEN an instance WHEN its command is built THEN rspamd runs in the foreground on the generated file with the instance directories as variables', () => {
  assert.deepEqual(rspamdArguments(INSTANCE, '_rspamd'), [
    '/usr/bin/rspamd', '--no-fork', '--config', '/etc/mailfleet/as/rspamd.conf', '--user', '_rspamd', '--group', '_rspamd',
    '--var=LOCAL_CONFDIR=/etc/mailfleet/as', '--var=DBDIR=/var/lib/mailfleet/as-0', '--var=RUNDIR=/run/mf/as-0',
  ]);
  assert.ok(!rspamdArguments(INSTANCE).includes('--user'), 'a pod starts it as its user already');
});

test('GIVEN every option on WHEN rendered THEN each file name is a valid ConfigMap key (flat: local.d is a link to the directory)', () => {
  const all = files(testSpec("filter: { publicLists: false, nameservers: ['127.0.0.1'] }"), { ...PEERS, av: [{ name: 'av', host: 'av' }] });
  assert.ok(Object.keys(all).length > 10);
  for (const name of Object.keys(all)) assert.match(name, /^[-._a-zA-Z0-9]+$/);
});
