/**
 * The LMTP next hop the generator writes for an mta, run by a real Postfix 3.7: the lines of the rendered main.cf
 * (next hop, fallback relays, status filter) in a bare Postfix whose "proxies" are smtp-sinks speaking LMTP.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { roleConfigFiles, type ConfigInput, type Peers } from '../../../src/config/index.ts';
import { withSecrets } from '../../../src/spec/index.ts';
import { testSpec } from '../../support/spec.ts';
import { until } from '../../support/poll.ts';
import { BASE_MAIN_CF, BASE_MASTER_CF, startPostfix, startSink } from '../exporter/bare-postfix.ts';

const NET = '127.143.24';
const DELIVERY_MS = 30_000;

function mtaInput(name: string, peers: Peers, lmtpHost?: string): ConfigInput {
  return {
    spec: withSecrets(testSpec(), { ldapReaderPassword: 'test-reader-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789' }),
    peers,
    // @CONFIG@: the bare Postfix's config directory, where it writes the generator's files too.
    instance: { role: 'mta', name, listen: '0.0.0.0', configDir: '@CONFIG@', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
    ...(lmtpHost === undefined ? {} : { lmtpHost }),
  };
}

function proxies(hosts: string[]): Peers {
  return { ldap: [], kvs: [], mailbox: [], mta: [], msa: [], proxy: hosts.map((host, i) => ({ name: `proxy-${i}`, host })) };
}

/**
 * A bare Postfix delivering example.com over LMTP with the rendered mta's next-hop lines and status filter; one
 * message sent; resolves with the log line of its first delivery attempt.
 */
async function deliverOnce(t: TestContext, input: ConfigInput): Promise<string> {
  const files = roleConfigFiles('mta', input);
  const lines = (files['main.cf'] ?? '').split('\n').filter((l) => /^(virtual_transport|lmtp_fallback_relay|lmtp_delivery_status_filter) = /.test(l));
  const postfix = await startPostfix(t, {
    mainCf: [BASE_MAIN_CF, 'virtual_mailbox_domains = example.com', 'virtual_mailbox_maps = static:ok', 'lmtp_connect_timeout = 2s', 'notify_classes =', ...lines].join('\n'),
    masterCf: `${BASE_MASTER_CF}\nlmtp unix - - n - - lmtp\nerror unix - - n - - error\nretry unix - - n - - error\n`,
    files: { 'lmtp-status-filter': files['lmtp-status-filter'] ?? '' },
  });
  execFileSync('/usr/sbin/sendmail', ['-C', postfix.configDir, '-f', 'sender@remote.test', 'user@example.com'], { input: 'Subject: next hop\n\nhello\n' });
  return until('the delivery attempt in the log', async () => readFileSync(postfix.logFile, 'latin1').split('\n').find((l) => / status=/.test(l)), DELIVERY_MS);
}

test('GIVEN mta-1 on one host with two proxies WHEN its own first proxy refuses connections THEN the message goes to the other, its fallback relay', async (t) => {
  // proxy-0 answers LMTP, proxy-1 (mta-1's first) listens nowhere.
  await startSink(t, `${NET}.10:24`, ['-L']);
  const input = mtaInput('mta-1', proxies([`${NET}.10`, `${NET}.11`]));

  const line = await deliverOnce(t, input);

  assert.match(line, new RegExp(`relay=${NET.replaceAll('.', '\\.')}\\.10\\[.*status=sent`), line);
});

test('GIVEN mta-0 on one host with two proxies WHEN both answer THEN it delivers to its own first proxy, proxy-0', async (t) => {
  await startSink(t, `${NET}.20:24`, ['-L']);
  await startSink(t, `${NET}.21:24`, ['-L']);

  const line = await deliverOnce(t, mtaInput('mta-0', proxies([`${NET}.20`, `${NET}.21`])));

  assert.match(line, new RegExp(`relay=${NET.replaceAll('.', '\\.')}\\.20\\[.*status=sent`), line);
});

/** A name the resolver says does not exist, as the cluster DNS says of a headless Service with no ready pod. */
const MISSING = 'proxy-lmtp.mailfleet-test.invalid';
const nxdomain = await dns.resolve4(MISSING).then(
  () => false,
  (err: NodeJS.ErrnoException) => err.code === 'ENOTFOUND' || err.code === 'ENODATA',
);

test('GIVEN the Kubernetes next hop WHEN its name does not resolve (no proxy ready) THEN the message is deferred, not bounced', { skip: nxdomain ? false : `the resolver here does not answer NXDOMAIN for ${MISSING}` }, async (t) => {
  const line = await deliverOnce(t, mtaInput('{{mailfleet.pod.name}}', proxies([`${NET}.30`]), MISSING));

  assert.match(line, /Host not found/, line);
  assert.match(line, /dsn=4\.4\.4, status=deferred/, line);
});
