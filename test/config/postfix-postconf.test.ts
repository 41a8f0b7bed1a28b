/**
 * What Postfix itself says of the main.cf and master.cf an mta and an msa get: `postconf -n` warns of an unknown or
 * unused parameter, a setting written twice or a bad value; a rendered config must draw no warning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { withSecrets } from '../../src/spec/index.ts';
import { CLUSTER_PEERS } from '../support/postfix-main-cf.ts';
import { testSpec } from '../support/spec.ts';

const noPostconf = spawnSync('postconf', ['-d', 'mail_version']).status !== 0 ? 'postconf is not installed' : false;

/** Behind a balancer (the PROXY-protocol services in master.cf), with rspamd and the policy server. */
const spec = withSecrets(testSpec('loadBalancer: { sourceRanges: [192.0.2.0/28] }'), { ldapReaderPassword: 'test-reader-secret-0123' });
const PEERS: Peers = {
  ...CLUSTER_PEERS,
  proxy: [{ name: 'proxy-0', host: '127.77.3.10' }, { name: 'proxy-1', host: '127.77.3.11' }],
  as: [{ name: 'as', host: 'as.mail.svc.cluster.local' }],
  policy: [{ name: 'policy', host: 'policy.mail.svc.cluster.local' }],
};

const RUNTIMES: { runtime: string; name: string; lmtpHost?: string }[] = [
  { runtime: 'a single-host instance', name: 'INSTANCE-1' },
  { runtime: 'a Kubernetes pod', name: '{{mailfleet.pod.name}}', lmtpHost: 'proxy-lmtp.mail.svc.cluster.local' },
];

for (const role of ['mta', 'msa'] as const) {
  for (const { runtime, name, lmtpHost } of RUNTIMES) {
    test(`GIVEN the ${role} config of ${runtime} WHEN postconf -n reads it THEN Postfix warns of nothing`, { skip: noPostconf }, (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'mailfleet-postconf-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const input: ConfigInput = {
        spec,
        peers: PEERS,
        instance: { role, name: name.replace('INSTANCE', role), listen: '0.0.0.0', configDir: dir, dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: '/srv/mail', tlsDir: join(dir, 'tls') },
        ...(lmtpHost === undefined ? {} : { lmtpHost }),
      };
      for (const [file, text] of Object.entries(roleConfigFiles(role, input))) writeFileSync(join(dir, file), text);

      const r = spawnSync('postconf', ['-n', '-c', dir], { encoding: 'utf8' });

      assert.equal(r.status, 0);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^smtpd_discard_ehlo_keywords = etrn$/m);
      assert.match(r.stdout, /^smtpd_etrn_restrictions = reject$/m);
      assert.match(r.stdout, /^virtual_transport = lmtp:inet:\[/m);
    });
  }
}
