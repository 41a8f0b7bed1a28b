/**
 * Postfix's metrics on a running platform, read where Prometheus reads them: the /metrics of the mta's and the
 * msa's agent, which count the log lines they relay from Postfix and read its queue from showq. Stock clients
 * deliver a message, are refused an unknown recipient and fail a login; the series that traffic must move are
 * checked, and promtool parses each agent's whole output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { message, sendAll, waitQueueEmpty } from '../../support/mail.ts';
import { DOMAIN, HOSTNAME, localCaFile, startPlatform, type InstanceStatus } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';
import { pythonClient } from '../../support/tls-clients.ts';

const POOL = '127.120.0.0/16';
const PASSWORD = 'postfix-metrics-password';
const LOG_DEADLINE_MS = 30_000;
const QUEUES = ['active', 'deferred', 'hold', 'incoming', 'maildrop'];

async function scrape(instance: InstanceStatus): Promise<string> {
  const res = await fetch(`http://${instance.address}:${instance.ports.http}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The sum of every series named `name` whose labels include `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`));
    if (has) total += Number(m[3]);
  }
  return total;
}

async function untilAbove(instance: InstanceStatus, expected: [string, Record<string, string>][]): Promise<string> {
  let last = '';
  try {
    return await until(`${instance.name}'s postfix series`, async () => {
      last = await scrape(instance);
      return expected.every(([name, labels]) => sum(last, name, labels) > 0) ? last : undefined;
    }, LOG_DEADLINE_MS, 250);
  } catch (err) {
    const missing = expected.filter(([name, labels]) => !(sum(last, name, labels) > 0)).map(([n, l]) => `${n}${JSON.stringify(l)}`);
    throw new Error(`${(err as Error).message}; still 0 or absent: ${missing.join(' ')}\n${last.split('\n').filter((l) => l.startsWith('mailfleet_postfix_')).join('\n')}`, { cause: err });
  }
}

test('Postfix\'s metrics through the agents of mta and msa, with real daemons', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 2, password: PASSWORD, roles: { mailbox: 1, proxy: 1, mta: 1, msa: 1 } });
  const mta = await platform.instance('mta-0');
  const msa = await platform.instance('msa-0');
  const user = `user1@${DOMAIN}`;

  await t.test('GIVEN a message delivered through the mta and an unknown recipient WHEN the mta\'s agent is scraped THEN the session, the TLS, the reject at RCPT and the LMTP delivery with its four delay stages are counted', async () => {
    const [sent] = await sendAll(mta.address, mta.ports.smtp as number, [message('postfix-metrics-1@remote.test', 'sender@remote.test', user)], 1, { tls: platform.clientTls('starttls') });
    assert.deepEqual(sent?.rcpt.map((r) => r.code), [250]);
    const [refused] = await sendAll(mta.address, mta.ports.smtp as number, [message('postfix-metrics-2@remote.test', 'sender@remote.test', `nobody@${DOMAIN}`)], 1, { tls: platform.clientTls('starttls') });
    assert.deepEqual(refused?.rcpt.map((r) => r.code), [550]);
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));

    const text = await untilAbove(mta, [
      ['mailfleet_postfix_smtpd_connects_total', {}],
      ['mailfleet_postfix_smtpd_tls_connections_total', {}],
      ['mailfleet_postfix_smtpd_rejects_total', { stage: 'RCPT', code: '550' }],
      ['mailfleet_postfix_deliveries_total', { transport: 'lmtp', status: 'sent' }],
      ['mailfleet_postfix_qmgr_messages_removed_total', {}],
    ]);
    for (const stage of ['before_qmgr', 'in_qmgr', 'conn_setup', 'transmission']) {
      assert.equal(sum(text, 'mailfleet_postfix_delivery_delay_seconds_count', { transport: 'lmtp', stage }), 1, stage);
    }
    assert.equal(sum(text, 'mailfleet_postfix_deliveries_total', { status: 'sent' }), 1);
    assert.match(text, /mailfleet_postfix_log_lines_total\{[^}]*role="mta"/);
  });

  await t.test('THEN the mta\'s queue is read from showq: every queue is present, empty, and no read failed', async () => {
    // showq's answer is cached for a few seconds: the delivered message may still be listed at first.
    const text = await until('the queue read empty', async () => {
      const s = await scrape(mta);
      return sum(s, 'mailfleet_postfix_queue_messages') === 0 ? s : undefined;
    }, LOG_DEADLINE_MS, 500);
    for (const queue of QUEUES) assert.match(text, new RegExp(`^mailfleet_postfix_queue_messages\\{[^}]*queue="${queue}"[^}]*\\} 0$`, 'm'), queue);
    assert.equal(sum(text, 'mailfleet_postfix_queue_scrape_errors_total'), 0);
  });

  await t.test('GIVEN a failed login on 465 WHEN the msa\'s agent is scraped THEN the SASL failure is counted under the renamed service', async () => {
    const r = pythonClient<{ login?: { code: number } }>('submissions', {
      host: msa.address, port: msa.ports.submissions as number, name: HOSTNAME, ca: localCaFile(platform.stateDir),
      user, password: 'not-the-password', to: user, mid: 'postfix-metrics-3@example.com',
    });
    assert.ok(r.error !== undefined || (r.login?.code ?? 0) >= 500, JSON.stringify(r));
    await untilAbove(msa, [['mailfleet_postfix_smtpd_sasl_authentication_failures_total', {}], ['mailfleet_postfix_smtpd_connects_total', {}]]);
  });

  await t.test('THEN promtool parses each agent\'s whole output', async () => {
    for (const instance of [mta, msa]) {
      const r = spawnSync('promtool', ['check', 'metrics'], { input: await scrape(instance), encoding: 'utf8', timeout: 30_000 });
      // 0: clean; 3: lint findings only (e.g. a counter's name). 1 would be a parse error.
      assert.ok(r.status === 0 || r.status === 3, `${instance.name}: exit ${r.status}: ${r.stdout}${r.stderr}`);
    }
  });
});
