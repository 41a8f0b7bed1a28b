/**
 * The one rule every server is measured with, and its rendering for each: at most 1,000 recipients (RCPT
 * requests) per 60 s per client address, `DEFER_IF_PERMIT 4.7.1 …` beyond. The load spreads over thousands of
 * client addresses, so nearly every request takes the permit path, but each is counted against its client's
 * limit; the rule check (`bench/policy/run.ts`) shows that the limit bites.
 *
 * The servers count differently under the same numbers: postfwd keeps a fixed window that starts at a client's
 * first request, policyd-rate-limit a sliding log of the last 60 s in SQLite, mailfleet a GCRA bucket in Redis
 * (1,000 at once, then one per 60 ms).
 */
import { stringify } from 'yaml';
import { CLIENT_NETWORKS, PROBE_NETWORK } from './requests.ts';

export const RULE = {
  /** Recipients per window and client address. */
  limit: 1000,
  seconds: 60,
  action: 'DEFER_IF_PERMIT',
  text: '4.7.1 rate limit exceeded',
} as const;

/** postfwd's rule file: a rate() counter per client_address, taken at RCPT only. */
export function postfwdRules(): string {
  return `# bench/policy: ${RULE.limit} recipients per ${RULE.seconds} s per client address\n`
    + `id=RCPT_PER_CLIENT; protocol_state==RCPT; action=rate(client_address/${RULE.limit}/${RULE.seconds}/${RULE.action} ${RULE.text})\n`;
}

/**
 * policyd-rate-limit's configuration (Debian 1.0.1): it counts every RCPT request of a limited id. The id is
 * the client address (`limit_by_ip`, not the SASL user or sender it prefers by default) for clients in
 * `limited_networks`. Storage is SQLite, the backend Debian configures (the package offers MySQL and
 * PostgreSQL, no Redis). `debug: False`: the shipped `True` writes every request to stderr.
 */
export function policydConfig(paths: { pidfile: string; database: string }, listen: { host: string; port: number }): string {
  return stringify({
    debug: false,
    user: 'policyd-rate-limit',
    group: 'policyd-rate-limit',
    pidfile: paths.pidfile,
    backend: 0,
    sqlite_config: { database: paths.database },
    SOCKET: [listen.host, listen.port],
    limits: [[RULE.limit, RULE.seconds]],
    limits_by_id: {},
    limit_by_sasl: false,
    limit_by_sender: false,
    limit_by_ip: true,
    limited_networks: [...CLIENT_NETWORKS, PROBE_NETWORK],
    success_action: 'dunno',
    fail_action: `${RULE.action.toLowerCase()} ${RULE.text}`,
    db_error_action: 'dunno',
    report: false,
    delay_to_close: 300,
  });
}

/**
 * mailfleet's rules file (`mailfleet policy --rules`): one rule counting recipients per client address.
 * `ipv6Prefix: 128` keeps each IPv6 client apart, as the anchors do (mailfleet's default aggregates a /64).
 */
export function mailfleetRules(): string {
  return stringify({
    defaultAction: 'DUNNO',
    rules: [{
      name: 'rcpt-per-client',
      key: 'client_address',
      count: 'recipients',
      windows: [{ limit: RULE.limit, seconds: RULE.seconds }],
      ipv6Prefix: 128,
      action: RULE.action,
      text: RULE.text,
    }],
  });
}
