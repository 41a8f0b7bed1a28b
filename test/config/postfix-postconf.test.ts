/**
 * What Postfix itself says of the main.cf and master.cf an mta, an msa and the outbound pools (mailout, fallback) get:
 * `postconf -n` warns of an unknown or unused parameter, a setting written twice or a bad value; a rendered config must
 * draw no warning.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { postfixOutboundFiles, roleConfigFiles, type ConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { CLUSTER_PEERS } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const noPostconf = spawnSync('postconf', ['-d', 'mail_version']).status !== 0 ? 'postconf is not installed' : false;

/**
 * Behind a balancer (the PROXY-protocol services in master.cf), with rspamd, the policy server, and postscreen with
 * every setting of its own.
 */
const spec = withSecrets(testSpec([
  'loadBalancer: { sourceRanges: [192.0.2.0/28] }',
  'mta: { postscreen: { allowNetworks: [198.51.100.0/24], denyNetworks: [198.51.100.9/32], dnsbl: { sites: [{ domain: zen.example.net, reply: "127.0.0.[2..11]", weight: 3 }, { domain: wl.example.net, weight: -2 }], threshold: 3 } } }',
].join('\n')), { ldapReaderPassword: 'test-reader-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789' });
const PEERS: Peers = {
  ...CLUSTER_PEERS,
  proxy: [{ name: 'proxy-0', host: '127.77.3.10' }, { name: 'proxy-1', host: '127.77.3.11' }],
  as: [{ name: 'as', host: 'as.mail.svc.cluster.local' }],
  policy: [{ name: 'policy', host: 'policy.mail.svc.cluster.local' }],
};

const KUBE_NAMES = { lmtpHost: 'proxy-lmtp.mail.svc.cluster.local', authHost: 'proxy-auth.mail.svc.cluster.local' };
const RUNTIMES: { runtime: string; name: string; names?: typeof KUBE_NAMES }[] = [
  { runtime: 'a single-host instance', name: 'INSTANCE-1' },
  { runtime: 'a Kubernetes pod', name: '{{mailfleet.pod.name}}', names: KUBE_NAMES },
];

/** `postconf -n` on the files `render` writes into `dir` (the config dir they name). */
function postconf(t: TestContext, render: (dir: string) => ConfigFiles): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-postconf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [file, text] of Object.entries(render(dir))) writeFileSync(join(dir, file), text);
  return spawnSync('postconf', ['-n', '-c', dir], { encoding: 'utf8' });
}

function inputIn(dir: string, role: 'mta' | 'msa', name: string, names?: typeof KUBE_NAMES): ConfigInput {
  return {
    spec,
    peers: PEERS,
    instance: { role, name, listen: '0.0.0.0', configDir: dir, dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: '/srv/mail', tlsDir: join(dir, 'tls') },
    ...names,
  };
}

for (const role of ['mta', 'msa'] as const) {
  for (const { runtime, name, names } of RUNTIMES) {
    test(`GIVEN the ${role} config of ${runtime} WHEN postconf -n reads it THEN Postfix warns of nothing`, { skip: noPostconf }, (t) => {
      const r = postconf(t, (dir) => roleConfigFiles(role, inputIn(dir, role, name.replace('INSTANCE', role), names)));

      assert.equal(r.status, 0);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^smtpd_discard_ehlo_keywords = etrn$/m);
      assert.match(r.stdout, /^smtpd_etrn_restrictions = reject$/m);
      assert.match(r.stdout, /^virtual_transport = lmtp:inet:\[/m);
      if (role === 'mta') {
        assert.match(r.stdout, /^postscreen_greet_action = enforce$/m);
        assert.match(r.stdout, /^postscreen_dnsbl_sites = zen\.example\.net=127\.0\.0\.\[2\.\.11\]\*3, wl\.example\.net\*-2$/m);
      }
      // The agent's relay on the pod's loopback (listen 0.0.0.0 here, both runtimes).
      if (role === 'msa') assert.match(r.stdout, /^smtpd_sasl_path = inet:127\.0\.0\.1:12345$/m);
    });
  }
}

// The outbound pools run in Kubernetes only.
for (const pool of ['mailout', 'fallback'] as const) {
  test(`GIVEN the ${pool} config of a Kubernetes pod WHEN postconf -n reads it THEN Postfix warns of nothing`, { skip: noPostconf }, (t) => {
    const r = postconf(t, (dir) => postfixOutboundFiles(inputIn(dir, 'mta', '{{mailfleet.pod.name}}', KUBE_NAMES), pool, ['10.244.0.0/16']));

    assert.equal(r.status, 0);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^smtpd_discard_ehlo_keywords = etrn$/m);
    assert.match(r.stdout, /^smtpd_etrn_restrictions = reject$/m);
  });
}
