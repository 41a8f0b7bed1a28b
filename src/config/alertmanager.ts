/**
 * Alertmanager's config: every alert goes to one webhook (`spec.kubernetes.alertWebhookUrl` in Kubernetes,
 * `spec.local.alertWebhookUrl` on the single host), the ISP's own paging or ticketing bridge, grouped by alert and role so that ten MTAs with a full queue
 * page once, not ten times. A critical alert silences the warning of the same name and role.
 */
import type { PlatformSpec } from '../spec/index.ts';
import { configYaml } from './config-yaml.ts';
import type { ConfigFiles } from './context.ts';

export const ALERTMANAGER_CONFIG_FILE = 'alertmanager.yml';
export const ALERT_WEBHOOK_RECEIVER = 'mailfleet-webhook';
/** Where the watchdog goes: `spec.alerting.watchdogWebhookUrl`, or nowhere (it still shows in Alertmanager's API). */
export const WATCHDOG_RECEIVER = 'mailfleet-watchdog';
/** The alert that always fires (src/observability/platform.ts); the config layer names it, it does not import rules. */
const WATCHDOG_ALERT = 'MailfleetWatchdog';
/** The watchdog is sent again this often: a receiver missing it for longer knows alerting is broken. */
const WATCHDOG_REPEAT = '5m';
/** Labels alerts are grouped by: the rule and the role it fired for. */
export const ALERT_GROUP_BY = ['alertname', 'role'] as const;

export interface AlertTimings {
  /** Wait this long for more alerts of a new group before the first notification. Default 30. */
  groupWaitSeconds?: number;
  /** Wait this long before notifying about changes in a group already notified. Default 300. */
  groupIntervalSeconds?: number;
  /** Repeat a notification still firing after this long. Default 14 400 (4 h). */
  repeatIntervalSeconds?: number;
}

export interface AlertmanagerOptions extends AlertTimings {
  /** Where notifications are posted. Default `spec.kubernetes.alertWebhookUrl`. */
  webhookUrl?: string;
}

/** `90` → `90s`, `300` → `5m`, `14400` → `4h`: the largest whole unit. */
function duration(name: string, seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`alertmanager ${name} must be a whole number of seconds ≥ 1, not ${seconds}`);
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function webhook(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(`alert webhook ${JSON.stringify(url)} is not a URL`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || /\s/.test(url)) throw new RangeError(`alert webhook ${JSON.stringify(url)} is not an http(s) URL`);
  return url;
}

/** `alertmanager.yml`. */
export function alertmanagerConfig(spec: PlatformSpec, timings: AlertmanagerOptions = {}): ConfigFiles {
  const url = webhook(timings.webhookUrl ?? spec.kubernetes.alertWebhookUrl);
  const watchdogUrl = spec.alerting.watchdogWebhookUrl === undefined ? undefined : webhook(spec.alerting.watchdogWebhookUrl);
  const config = {
    route: {
      receiver: ALERT_WEBHOOK_RECEIVER,
      group_by: [...ALERT_GROUP_BY],
      group_wait: duration('groupWaitSeconds', timings.groupWaitSeconds ?? 30),
      group_interval: duration('groupIntervalSeconds', timings.groupIntervalSeconds ?? 300),
      repeat_interval: duration('repeatIntervalSeconds', timings.repeatIntervalSeconds ?? 4 * 3600),
      // The watchdog never reaches the alert receiver: to its own, or nowhere.
      routes: [{ receiver: WATCHDOG_RECEIVER, matchers: [`alertname="${WATCHDOG_ALERT}"`], group_wait: '0s', group_interval: '1m', repeat_interval: WATCHDOG_REPEAT }],
    },
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: [...ALERT_GROUP_BY] }],
    receivers: [
      { name: ALERT_WEBHOOK_RECEIVER, webhook_configs: [{ url, send_resolved: true }] },
      watchdogUrl === undefined ? { name: WATCHDOG_RECEIVER } : { name: WATCHDOG_RECEIVER, webhook_configs: [{ url: watchdogUrl, send_resolved: false }] },
    ],
  };
  return { [ALERTMANAGER_CONFIG_FILE]: configYaml(config) };
}

/** Alertmanager's `--web.config.file`: every request (the API, the UI, silences, alerts from vmalert) needs this user's password. */
export const ALERTMANAGER_WEB_CONFIG_FILE = 'web.yml';
/** The one user, whose password is the platform's metrics admin key (`spec.alerting.adminKey`). */
export const ALERTMANAGER_USER = 'admin';
const BCRYPT_HASH = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** `web.yml` for a bcrypt hash of the admin key (Alertmanager accepts no other form; the caller hashes, with a fresh salt). */
export function alertmanagerWebConfig(bcryptHash: string): ConfigFiles {
  if (!BCRYPT_HASH.test(bcryptHash)) throw new RangeError('not a bcrypt hash');
  return { [ALERTMANAGER_WEB_CONFIG_FILE]: configYaml({ basic_auth_users: { [ALERTMANAGER_USER]: bcryptHash } }) };
}
