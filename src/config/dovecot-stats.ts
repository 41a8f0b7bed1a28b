/**
 * Dovecot's own metrics (2.3.11+): `metric` blocks count the events Dovecot emits, and the stats process serves
 * them as OpenMetrics text at `/metrics` on its listener named `http`. Here that listener is a unix socket in the
 * instance's run dir (base_dir), mode 0600: the stats process speaks HTTP on a listener of that name whatever its
 * kind (observed on 2.3.19), so no TCP port is opened, none can collide between the instances of one host, and only
 * root reaches it. The instance's agent fetches it at each scrape and serves it, converted to Prometheus text,
 * beside its own metrics (src/agent/dovecot-metrics.ts): one scrape target per pod, nothing new on the network.
 *
 * Dovecot prints each metric as `dovecot_<name>_total` and `dovecot_<name>_duration_seconds_total` (the events'
 * summed duration), or with a quantized `group_by` as a histogram `dovecot_<name>_bucket|_sum|_count`. A counter
 * with `group_by` gets one series per level: `dovecot_imap_command_total{cmd_name="LIST"}` next to
 * `{cmd_name="LIST",tagged_reply_state="OK"}`, and the total with no group label. A sum over a whole family
 * therefore counts every event once per level; pick one level, e.g. `{tagged_reply_state!=""}` for the deepest or
 * `{cmd_name=""}` for the total. Counters restart from 0 when Dovecot's stats process restarts
 * (`dovecot_process_start_time_seconds` moves).
 *
 * What the installed Dovecot (2.3.19) emits, as observed: `auth_request_finished` carries `success=yes` on success
 * and no `success` field at all on failure (hence `NOT success=yes`, never `success=no`); there is no POP3 command
 * event (`pop3_command_finished` and `login_aborted` are 2.4's), so POP3 is seen through its sessions on the
 * backends; the director emits no event for a user moved between backends, so moves are not counted here: the
 * backend-sync controller's `mailfleet_backends_*` series cover the ring.
 *
 * Logins and proxied sessions have no `group_by`: one series each, which the metric contract and the dashboards sum
 * as they are (a `service` breakdown would add a level that such a sum counts twice).
 */
import type { InstanceContext } from './context.ts';
import { serviceBlock } from './dovecot-common.ts';

/** The stats listener's name, which is also its socket's file name in base_dir: Dovecot serves HTTP on `http`. */
const STATS_HTTP_LISTENER = 'http';

/** The unix socket on which an instance's Dovecot serves /metrics (base_dir is the instance's run dir). */
export function dovecotStatsSocket(instance: Pick<InstanceContext, 'runDir'>): string {
  return `${instance.runDir}/${STATS_HTTP_LISTENER}`;
}

/** One Dovecot `metric` block. */
export interface DovecotMetric {
  /** Printed as `dovecot_<name>`: letters, digits and `_` only (Dovecot drops other names without a word). */
  name: string;
  /** Dovecot's event filter. */
  filter: string;
  /** Event fields to break the count down by; a `field:exponential:min:max:base` one makes it a histogram. */
  groupBy?: readonly string[];
}

/**
 * Logins (IMAP, POP3, and on the proxy the msa's SASL): on a proxy the users', on a backend the proxies' logins on
 * the users' behalf.
 */
const AUTH_METRICS: readonly DovecotMetric[] = [
  { name: 'auth_success', filter: 'event=auth_request_finished AND success=yes' },
  { name: 'auth_failure', filter: 'event=auth_request_finished AND NOT success=yes' },
];

/** What a `proxy` instance counts: logins, and the IMAP and POP3 sessions it proxied to a backend. */
export const PROXY_METRICS: readonly DovecotMetric[] = [
  ...AUTH_METRICS,
  { name: 'proxy_session', filter: 'event=proxy_session_finished' },
];

/**
 * What a `mailbox` backend counts: logins (the proxies' master logins on the users' behalf), IMAP commands by name
 * and tagged reply with a latency histogram by name (100 µs to 10 s), LMTP commands by name and status code, mail
 * delivered, and POP3 sessions.
 */
export const MAILBOX_METRICS: readonly DovecotMetric[] = [
  ...AUTH_METRICS,
  { name: 'imap_command', filter: 'event=imap_command_finished', groupBy: ['cmd_name', 'tagged_reply_state'] },
  { name: 'imap_command_duration_seconds', filter: 'event=imap_command_finished', groupBy: ['cmd_name', 'duration:exponential:2:7:10'] },
  { name: 'lmtp_command', filter: 'event=smtp_server_command_finished AND protocol=lmtp', groupBy: ['cmd_name', 'status_code'] },
  { name: 'mail_delivery', filter: 'event=mail_delivery_finished' },
  { name: 'pop3_session', filter: 'event=mail_user_session_finished AND category=service:pop3' },
];

/** The stats listener and the `metric` blocks of an instance. */
export function dovecotStatsSettings(metrics: readonly DovecotMetric[]): string[] {
  // Processes report their events to the stats process on `stats_writer_socket_path`: emptied, every metric stays
  // at 0. It is left at its default (`stats-writer` in base_dir) on purpose: Dovecot 2.3.19 puts base_dir in front
  // of whatever is set (an absolute path then names no socket), and with the same relative name set explicitly
  // doveadm looks for it in its working directory and logs an error at every `doveadm reload`.
  return [
    ...serviceBlock('stats', [], [`unix_listener ${STATS_HTTP_LISTENER} {`, '  mode = 0600', '}']),
    ...metrics.flatMap((m) => [
      `metric ${m.name} {`,
      `  filter = ${m.filter}`,
      ...(m.groupBy ? [`  group_by = ${m.groupBy.join(' ')}`] : []),
      '}',
    ]),
  ];
}
