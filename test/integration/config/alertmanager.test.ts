/**
 * The Alertmanager config against Debian's prometheus-alertmanager: amtool accepts it and routes every
 * alert to the webhook, and a real Alertmanager started from it (clustering off, loopback only) posts
 * one grouped notification to a webhook in the test, then the resolved one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ALERT_WEBHOOK_RECEIVER, ALERTMANAGER_CONFIG_FILE, alertmanagerConfig, WATCHDOG_RECEIVER, type AlertTimings } from '../../../src/config/index.ts';
import type { PlatformSpec } from '../../../src/spec/index.ts';
import { testSpec } from '../../support/spec.ts';
import { findProgram, freePort, pollUntil, run, startProcess, tempDir } from './tools.ts';
import { alertWebhook } from '../../support/alert-webhook.ts';

const AMTOOL = findProgram('amtool');
const ALERTMANAGER = findProgram('prometheus-alertmanager');
const ALERTMANAGER_HOST = '127.86.0.20';
const WEBHOOK_HOST = '127.86.0.21';
const NOTIFY_DEADLINE_MS = 30_000;

function specWith(webhookUrl: string): PlatformSpec {
  return testSpec(`kubernetes: { alertWebhookUrl: "${webhookUrl}" }`);
}

function configFile(t: TestContext, spec: PlatformSpec, timings?: AlertTimings, append = ''): string {
  const file = join(tempDir(t, 'alertmanager'), ALERTMANAGER_CONFIG_FILE);
  writeFileSync(file, (alertmanagerConfig(spec, timings)[ALERTMANAGER_CONFIG_FILE] ?? '') + append);
  return file;
}


test('GIVEN the default config WHEN checked THEN amtool accepts it and routes any alert to the webhook', { skip: !AMTOOL }, (t) => {
  const file = configFile(t, specWith('http://alert-receiver.monitoring.svc:8080/alerts'));
  const check = run(AMTOOL as string, ['check-config', file]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const route = run(AMTOOL as string, ['config', 'routes', 'test', `--config.file=${file}`, 'alertname=MailQueueGrowing', 'role=mta', 'severity=warning']);
  assert.equal(route.code, 0, route.stdout + route.stderr);
  assert.equal(route.stdout.trim(), ALERT_WEBHOOK_RECEIVER);
  const watchdog = run(AMTOOL as string, ['config', 'routes', 'test', `--config.file=${file}`, 'alertname=MailfleetWatchdog', 'severity=none']);
  assert.equal(watchdog.stdout.trim(), WATCHDOG_RECEIVER, watchdog.stdout + watchdog.stderr);
});

test('GIVEN a config with a field Alertmanager does not know WHEN checked THEN amtool refuses it (the check can fail)', { skip: !AMTOOL }, (t) => {
  const file = configFile(t, specWith('http://alert-receiver.monitoring.svc:8080/alerts'), {}, 'grouping_by: [x]\n');
  assert.notEqual(run(AMTOOL as string, ['check-config', file]).code, 0);
});

test('GIVEN Alertmanager running the config WHEN two instances of a role fire the same alert and then resolve THEN the webhook gets one grouped firing notification, then a resolved one', { skip: !ALERTMANAGER }, async (t) => {
  const hook = await alertWebhook(t, WEBHOOK_HOST);
  const file = configFile(t, specWith(hook.url), { groupWaitSeconds: 1, groupIntervalSeconds: 1, repeatIntervalSeconds: 3600 });
  const port = await freePort(ALERTMANAGER_HOST);
  const args = [`--config.file=${file}`, `--storage.path=${tempDir(t, 'amdata')}`, `--web.listen-address=${ALERTMANAGER_HOST}:${port}`, '--cluster.listen-address='];
  await startProcess(t, ALERTMANAGER as string, args, /Listening on/);

  const api = `http://${ALERTMANAGER_HOST}:${port}/api/v2/alerts`;
  const alert = (instance: string, endsAt?: Date) => ({
    labels: { alertname: 'MailQueueGrowing', role: 'mta', severity: 'warning', instance },
    annotations: { summary: 'the active queue keeps growing' },
    ...(endsAt ? { endsAt: endsAt.toISOString() } : {}),
  });
  const post = async (alerts: unknown[]) => assert.equal((await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(alerts) })).status, 200);

  await post([alert('mta-0'), alert('mta-1')]);
  const firing = await pollUntil('a firing notification', NOTIFY_DEADLINE_MS, async () => hook.received.find((n) => n.status === 'firing'));
  assert.equal(firing.receiver, ALERT_WEBHOOK_RECEIVER);
  assert.deepEqual(firing.groupLabels, { alertname: 'MailQueueGrowing', role: 'mta' });
  assert.deepEqual(firing.alerts.map((a) => a.labels.instance).sort(), ['mta-0', 'mta-1']);

  await post([alert('mta-0', new Date()), alert('mta-1', new Date())]);
  const resolved = await pollUntil('a resolved notification', NOTIFY_DEADLINE_MS, async () => hook.received.find((n) => n.status === 'resolved'));
  assert.deepEqual(resolved.alerts.map((a) => a.status), ['resolved', 'resolved']);
  assert.equal(hook.received.filter((n) => n.status === 'firing').length, 1);
});

test('GIVEN a watchdog receiver WHEN Alertmanager gets the watchdog and an alert THEN each reaches its own receiver and no other', { skip: !ALERTMANAGER }, async (t) => {
  const hook = await alertWebhook(t, WEBHOOK_HOST);
  const heartbeat = await alertWebhook(t, WEBHOOK_HOST);
  const spec = testSpec(`kubernetes: { alertWebhookUrl: "${hook.url}" }\nalerting: { watchdogWebhookUrl: "${heartbeat.url}" }`);
  const file = configFile(t, spec, { groupWaitSeconds: 1, groupIntervalSeconds: 1, repeatIntervalSeconds: 3600 });
  const port = await freePort(ALERTMANAGER_HOST);
  const args = [`--config.file=${file}`, `--storage.path=${tempDir(t, 'amdata')}`, `--web.listen-address=${ALERTMANAGER_HOST}:${port}`, '--cluster.listen-address='];
  await startProcess(t, ALERTMANAGER as string, args, /Listening on/);

  const alerts = [
    { labels: { alertname: 'MailfleetWatchdog', severity: 'none' }, annotations: { summary: 'The alerting pipeline works' } },
    { labels: { alertname: 'MailfleetRoleAbsent', role: 'av', severity: 'critical' }, annotations: { summary: 'No av instance is a scrape target' } },
  ];
  const response = await fetch(`http://${ALERTMANAGER_HOST}:${port}/api/v2/alerts`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(alerts) });
  assert.equal(response.status, 200);
  const beat = await pollUntil('the watchdog at its receiver', NOTIFY_DEADLINE_MS, async () => heartbeat.received[0]);
  const paged = await pollUntil('the alert at the alert receiver', NOTIFY_DEADLINE_MS, async () => hook.received[0]);
  assert.equal(beat.receiver, WATCHDOG_RECEIVER);
  assert.deepEqual(beat.alerts.map((a) => a.labels.alertname), ['MailfleetWatchdog']);
  assert.deepEqual(paged.alerts.map((a) => a.labels.alertname), ['MailfleetRoleAbsent']);
  assert.ok(hook.received.every((n) => n.alerts.every((a) => a.labels.alertname !== 'MailfleetWatchdog')));
});
