/**
 * Alerts fire for real on the single host: vmalert evaluates the platform's rule packs against VictoriaMetrics
 * and Alertmanager posts to the webhook the spec names. A mailbox backend whose Dovecot stops answering turns
 * unready, the backend-sync controller marks it down in the director, and MailfleetBackendDown reaches the
 * webhook, then its resolution once Dovecot answers again.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { controlRequest, type StatusReport } from '../../src/runtime/local/index.ts';
import { startPlatform } from '../support/platform.ts';
import { until } from '../support/poll.ts';
import { alertWebhook, type Notification } from '../support/alert-webhook.ts';

const POOL = '127.113.0.0/16';
const WEBHOOK_HOST = '127.113.250.2';
const ALERT = 'MailfleetBackendDown';
const NOTIFY_DEADLINE_MS = 180_000;


/** The Dovecot master of an instance and every process under it. */
function dovecotTree(stateDir: string, instance: string): number[] {
  const conf = join(stateDir, 'instances', instance, 'config', 'dovecot.conf');
  const masters = execFileSync('pgrep', ['-f', conf], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  const all = [...masters];
  for (let parents = masters; parents.length > 0;) {
    let children: number[] = [];
    try {
      children = execFileSync('pgrep', ['-P', parents.join(',')], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    } catch {
      // pgrep exits 1 when a level has no children
    }
    all.push(...children);
    parents = children;
  }
  return all;
}

const backendDown = (n: Notification, status: 'firing' | 'resolved') => n.status === status && n.alerts.some((a) => a.labels.alertname === ALERT && a.status === status);

test('a stopped mailbox Dovecot raises MailfleetBackendDown at the webhook, and its resolution', { timeout: 600_000 }, async (t) => {
  const hook = await alertWebhook(t, WEBHOOK_HOST);
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 3,
    roles: { mailbox: 2, proxy: 1, mta: 0, msa: 0 },
    local: { alertWebhookUrl: hook.url, scrapeIntervalSeconds: 2, alertTimings: { groupWaitSeconds: 1, groupIntervalSeconds: 1, repeatIntervalSeconds: 3600 } },
    // MailfleetBackendDown holds for 5 min in production: 6 s here.
    extra: { alerting: { forScale: 0.02, evaluationSeconds: 2 } },
  });

  await t.test('GIVEN a webhook in the spec WHEN up is ready THEN Alertmanager runs on the pool and up says where alerts go', async () => {
    const { body } = await controlRequest(join(platform.stateDir, 'control.sock'), 'GET', '/v1/status');
    const m = (body as StatusReport).monitoring;
    assert.ok(m?.alertmanager && m.vmalert, 'vmalert and Alertmanager run');
    assert.match(m.alertmanager.url, /^http:\/\/127\.113\.\d+\.\d+:9093$/);
    assert.equal(m.alertmanager.webhookUrl, hook.url);
    assert.ok(platform.output().includes(`alerts go through Alertmanager (${m.alertmanager.url}/) to ${hook.url}`), platform.output());
    assert.ok(platform.output().includes(`alerts: ${m.vmalert.ui} (vmalert)`), platform.output());
  });

  await t.test('WHEN the Dovecot of mailbox-1 stops answering THEN MailfleetBackendDown reaches the webhook, then its resolution after it answers again', async () => {
    assert.equal(hook.received.some((n) => backendDown(n, 'firing')), false, 'no backend is down before the stop');
    const pids = dovecotTree(platform.stateDir, 'mailbox-1');
    assert.ok(pids.length > 0, 'the Dovecot of mailbox-1 runs');
    const resume = () => pids.forEach((pid) => {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone
      }
    });
    // This subtest's teardown runs before the platform's: nothing is left stopped, even on failure.
    t.after(resume);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();

    const firing = await until(`${ALERT} firing at the webhook`, async () => hook.received.find((n) => backendDown(n, 'firing')), NOTIFY_DEADLINE_MS, 250);
    const firedAfterMs = Date.now() - stoppedAt;
    const alert = firing.alerts.find((a) => a.labels.alertname === ALERT);
    assert.equal(alert?.labels.role, 'controller');
    assert.equal(alert?.labels.severity, 'warning');
    assert.match(alert?.annotations.summary ?? '', /Mailbox backends down in the director: 1 /);
    const mailbox1 = await platform.instance('mailbox-1');
    assert.equal(mailbox1.ready, false);
    assert.equal(mailbox1.director?.state, 'down');

    resume();
    const resumedAt = Date.now();
    await until(`${ALERT} resolved at the webhook`, async () => hook.received.find((n) => backendDown(n, 'resolved')), NOTIFY_DEADLINE_MS, 250);
    t.diagnostic(`firing ${firedAfterMs} ms after SIGSTOP, resolved ${Date.now() - resumedAt} ms after SIGCONT`);
    assert.equal((await platform.instance('mailbox-1')).director?.state, 'up');
  });

  await t.test('WHEN the platform goes down THEN vmalert, Alertmanager and VictoriaMetrics are gone with it', async () => {
    await platform.down();
    assert.deepEqual(platform.leftovers(), []);
  });
});
