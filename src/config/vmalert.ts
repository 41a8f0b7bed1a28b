/**
 * vmalert's notifier config (`-notifier.config`): the Alertmanagers it sends alerts to. An empty list is how
 * the single host evaluates the rules without sending anywhere when the spec names no webhook (vmalert
 * refuses alerting rules with neither `-notifier.url` nor `-notifier.config`, and the Debian build has no
 * `-notifier.blackhole`); the alerts still show on vmalert's own page and in `ALERTS` series.
 */
import { configYaml } from './config-yaml.ts';
import type { ConfigFiles } from './context.ts';

export const VMALERT_NOTIFIER_FILE = 'notifier.yml';

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$/;

/** `notifier.yml`: `alertmanagers` as `host:port` (plain HTTP); none at all is allowed. */
export function vmalertNotifierConfig(alertmanagers: readonly string[]): ConfigFiles {
  for (const a of alertmanagers) if (!HOST_PORT.test(a)) throw new RangeError(`alertmanager ${JSON.stringify(a)} is not host:port`);
  return { [VMALERT_NOTIFIER_FILE]: configYaml({ static_configs: [{ targets: [...alertmanagers] }] }) };
}
