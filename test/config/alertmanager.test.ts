import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ALERT_WEBHOOK_RECEIVER, ALERTMANAGER_CONFIG_FILE, alertmanagerConfig, WATCHDOG_RECEIVER, type AlertTimings } from '../../src/config/index.ts';
import { testSpec } from '../support/spec.ts';

const spec = testSpec('kubernetes: { alertWebhookUrl: "https://pager.example.net/hooks/mail" }');

interface Config {
  route: { receiver: string; group_by: string[]; group_wait: string; group_interval: string; repeat_interval: string; routes: { receiver: string; matchers: string[]; repeat_interval: string }[] };
  inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
  receivers: { name: string; webhook_configs?: { url: string; send_resolved: boolean }[] }[];
}

function render(timings?: AlertTimings): Config {
  return parse(alertmanagerConfig(spec, timings)[ALERTMANAGER_CONFIG_FILE] ?? '') as Config;
}

test('GIVEN a spec WHEN rendered THEN every alert goes to the spec webhook, resolved ones included', () => {
  const config = render();
  assert.equal(config.route.receiver, ALERT_WEBHOOK_RECEIVER);
  assert.deepEqual(config.receivers.find((r) => r.name === ALERT_WEBHOOK_RECEIVER), { name: ALERT_WEBHOOK_RECEIVER, webhook_configs: [{ url: 'https://pager.example.net/hooks/mail', send_resolved: true }] });
});

test('GIVEN the watchdog WHEN routed THEN it never reaches the alert receiver: to spec.alerting.watchdogWebhookUrl every 5 minutes, or nowhere', () => {
  const [route] = render().route.routes;
  assert.deepEqual(route?.matchers, ['alertname="MailfleetWatchdog"']);
  assert.equal(route?.receiver, WATCHDOG_RECEIVER);
  assert.equal(route?.repeat_interval, '5m');
  assert.deepEqual(render().receivers.find((r) => r.name === WATCHDOG_RECEIVER), { name: WATCHDOG_RECEIVER });
  const heartbeat = testSpec('kubernetes: { alertWebhookUrl: "https://pager.example.net/hooks/mail" }\nalerting: { watchdogWebhookUrl: "https://heartbeat.example.net/ping/mail" }');
  const config = parse(alertmanagerConfig(heartbeat)[ALERTMANAGER_CONFIG_FILE] ?? '') as Config;
  assert.deepEqual(config.receivers.find((r) => r.name === WATCHDOG_RECEIVER)?.webhook_configs, [{ url: 'https://heartbeat.example.net/ping/mail', send_resolved: false }]);
});

test('GIVEN the defaults WHEN rendered THEN alerts are grouped by alert and role with sensible timings', () => {
  const { route } = render();
  assert.deepEqual(route.group_by, ['alertname', 'role']);
  assert.deepEqual([route.group_wait, route.group_interval, route.repeat_interval], ['30s', '5m', '4h']);
});

test('GIVEN timings WHEN rendered THEN each is written in its largest whole unit', () => {
  const { route } = render({ groupWaitSeconds: 90, groupIntervalSeconds: 1, repeatIntervalSeconds: 86400 });
  assert.deepEqual([route.group_wait, route.group_interval, route.repeat_interval], ['90s', '1s', '24h']);
  assert.throws(() => alertmanagerConfig(spec, { groupWaitSeconds: 0 }), RangeError);
  assert.throws(() => alertmanagerConfig(spec, { repeatIntervalSeconds: 0.5 }), RangeError);
});

test('GIVEN a critical alert WHEN it fires THEN the warning of the same alert and role is inhibited', () => {
  assert.deepEqual(render().inhibit_rules, [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'role'] }]);
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  assert.equal(alertmanagerConfig(spec)[ALERTMANAGER_CONFIG_FILE], alertmanagerConfig(spec)[ALERTMANAGER_CONFIG_FILE]);
});

test('GIVEN a webhook URL option WHEN rendered THEN it replaces the spec\'s Kubernetes webhook (the single host names its own)', () => {
  const config = parse(alertmanagerConfig(spec, { webhookUrl: 'http://127.0.0.5:9999/hook' })[ALERTMANAGER_CONFIG_FILE] ?? '') as Config;
  assert.deepEqual(config.receivers[0]?.webhook_configs, [{ url: 'http://127.0.0.5:9999/hook', send_resolved: true }]);
});

test('GIVEN a webhook that is not an http(s) URL WHEN rendered THEN it is refused', () => {
  for (const webhookUrl of ['', 'ftp://x/y', 'not a url', 'http://x/\nroute: {}', 'file:///etc/passwd']) {
    assert.throws(() => alertmanagerConfig(spec, { webhookUrl }), RangeError, webhookUrl);
  }
});
