/** postscreen on the mta: master.cf layout, main.cf settings and the access table, from `spec.mta.postscreen`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { roleConfigFiles, type ConfigFiles } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import { CLUSTER_PEERS } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const LB = 'loadBalancer: { sourceRanges: [192.0.2.0/28] }';

function mta(spec: PlatformSpec, listen = '0.0.0.0'): ConfigFiles {
  return roleConfigFiles('mta', {
    spec: withSecrets(spec, { ldapReaderPassword: 'test-reader-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789' }),
    peers: CLUSTER_PEERS,
    instance: { role: 'mta', name: 'mta-0', listen, configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  });
}

function settings(text = ''): Map<string, string> {
  return new Map(text.split('\n').flatMap((l) => {
    const m = /^([a-z_]+) = ?(.*)$/.exec(l);
    return m ? [[m[1] as string, m[2] as string] as const] : [];
  }));
}

const services = (files: ConfigFiles): string[] => (files['master.cf'] ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));

test('GIVEN the default spec WHEN the mta is rendered THEN port 25 is one postscreen process handing clients to an smtpd pass service, with its helpers', () => {
  const lines = services(mta(testSpec(), '127.82.0.5'));

  assert.equal(lines[0], '127.82.0.5:25 inet n - n - 1 postscreen');
  assert.equal(lines[1], 'smtpd pass - - n - - smtpd');
  assert.ok(lines.some((l) => /^dnsblog +unix .* dnsblog$/.test(l)));
  assert.ok(lines.some((l) => /^tlsproxy +unix .* tlsproxy$/.test(l)));
  assert.equal(lines.filter((l) => / smtpd( |$)/.test(l) && / inet /.test(l)).length, 1, 'one inet smtpd: the health check');
});

test('GIVEN the default spec WHEN the mta is rendered THEN its health-check smtpd is still a plain smtpd on its own port', () => {
  const health = services(mta(testSpec(), '127.82.0.5')).filter((l) => l.includes('postfix/health'));

  assert.deepEqual(health.map((l) => l.split(' ').slice(0, 8).join(' ')), ['127.82.0.5:10026 inet n - n - 2 smtpd']);
});

test('GIVEN the default spec WHEN the mta is rendered THEN pregreet and blocklists are enforced, the deep tests are off and the cache is in the data directory', () => {
  const main = settings(mta(testSpec())['main.cf']);

  assert.equal(main.get('postscreen_greet_action'), 'enforce');
  assert.equal(main.get('postscreen_greet_wait'), '6s');
  assert.equal(main.get('postscreen_dnsbl_action'), 'enforce');
  assert.equal(main.get('postscreen_dnsbl_sites'), undefined, 'no blocklist unless the spec names one');
  assert.equal(main.get('postscreen_denylist_action'), 'drop');
  assert.equal(main.get('postscreen_access_list'), 'permit_mynetworks');
  for (const test of ['pipelining', 'non_smtp_command', 'bare_newline']) assert.equal(main.get(`postscreen_${test}_enable`), 'no');
  assert.equal(main.get('postscreen_cache_map'), 'proxy:btree:$data_directory/postscreen_cache');
  assert.equal(main.get('data_directory'), '/var/lib/mailfleet/lib');
  assert.equal(main.get('postscreen_client_connection_count_limit'), '50');
  assert.equal(main.get('postscreen_pre_queue_limit'), '200');
});

test('GIVEN load balancer ranges WHEN the mta is rendered THEN postscreen reads the PROXY header on the unix service and its smtpd never does', () => {
  const lines = services(mta(testSpec(LB)));

  assert.ok(lines.includes('smtp-lb unix - n n - 1 postscreen -o syslog_name=postfix/smtp-lb -o postscreen_upstream_proxy_protocol=haproxy -o smtpd_service_name=smtpd-lb'));
  assert.ok(lines.includes('smtpd-lb pass - - n - - smtpd -o syslog_name=postfix/smtp-lb'));
  assert.ok(!lines.some((l) => l.includes('smtpd_upstream_proxy_protocol')), 'smtpd would read a second header');
  assert.ok(!lines.some((l) => /^\S+:\d+ inet .*upstream_proxy/.test(l)), 'no inet listener believes PROXY headers');
});

test('GIVEN postscreen disabled WHEN the mta is rendered THEN port 25 and the balancer service are smtpd as before, with no postscreen setting', () => {
  const files = mta(testSpec(`${LB}\nmta: { postscreen: { enabled: false } }`));
  const lines = services(files);

  assert.equal(lines[0], '0.0.0.0:25 inet n - n - - smtpd');
  assert.ok(lines.includes('smtp-lb unix - n n - - smtpd -o syslog_name=postfix/smtp-lb -o smtpd_upstream_proxy_protocol=haproxy'));
  assert.ok(!lines.some((l) => /postscreen|dnsblog|tlsproxy/.test(l)));
  assert.doesNotMatch(files['main.cf'] ?? '', /postscreen/);
});

test('GIVEN blocklists, a threshold and a greet wait WHEN the mta is rendered THEN they are postscreen_dnsbl_sites in postscreen\'s form', () => {
  const spec = testSpec('mta: { postscreen: { greetWaitSeconds: 1, dnsbl: { sites: [{ domain: zen.example.net, reply: "127.0.0.[2..11]", weight: 3 }, { domain: bl.example.org }, { domain: wl.example.org, weight: -2 }], threshold: 3 } } }');
  const main = settings(mta(spec)['main.cf']);

  assert.equal(main.get('postscreen_dnsbl_sites'), 'zen.example.net=127.0.0.[2..11]*3, bl.example.org, wl.example.org*-2');
  assert.equal(main.get('postscreen_dnsbl_threshold'), '3');
  assert.equal(main.get('postscreen_greet_wait'), '1s');
});

test('GIVEN allow and deny networks WHEN the mta is rendered THEN a cidr table lists them most specific first, after mynetworks', () => {
  const files = mta(testSpec('mta: { postscreen: { allowNetworks: [10.0.0.0/8, 2001:db8::/32], denyNetworks: [10.1.2.3/32, 10.9.0.0/16] } }'));

  assert.equal(settings(files['main.cf']).get('postscreen_access_list'), 'permit_mynetworks, cidr:/etc/mailfleet/postscreen-access.cidr');
  assert.deepEqual((files['postscreen-access.cidr'] ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#')), [
    '10.1.2.3/32 reject',
    '2001:db8::/32 permit',
    '10.9.0.0/16 reject',
    '10.0.0.0/8 permit',
  ]);
});
