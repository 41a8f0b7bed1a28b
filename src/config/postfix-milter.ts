/**
 * rspamd as the milter of an `mta` and an `msa`: every message is scanned before Postfix accepts it (end of DATA),
 * and rspamd's verdict is Postfix's answer (5xx reject, 4xx greylist, headers added, a DKIM signature inserted).
 *
 * One milter only: Postfix applies every milter it lists to every message, one after the other, so a list would
 * scan each message once per `as` instance. The single host names its one `as` instance, Kubernetes the `as`
 * Service. When it cannot be asked (refused, timed out, broken dialogue) Postfix acts on `milter_default_action`:
 * `accept` while `spec.filter.failure` is open (and logs a warning, which the agent counts), `tempfail` (4xx, the
 * sender retries) while closed. No `as` peer, no milter.
 */
import { RSPAMD_MILTER_TIMEOUT_S } from './rspamd.ts';
import type { ConfigInput } from './context.ts';

/** Seconds Postfix waits for the milter's TCP connection: short, so a dead rspamd costs each session little. */
export const MILTER_CONNECT_TIMEOUT_S = 5;
/**
 * Seconds Postfix waits for the answer to a command (connect, MAIL, RCPT, headers). rspamd answers those at once
 * (it scans at the end of the message): a hung rspamd would otherwise hold every new session's greeting this long.
 */
export const MILTER_COMMAND_TIMEOUT_S = 10;

/** `inet:` endpoint of a host (a name, an IPv4 or a bracketed IPv6 address) and port. */
function endpoint(host: string, port: number): string {
  return `inet:${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The main.cf lines that make rspamd the role's milter, or none. */
export function postfixMilterSettings({ spec, peers }: ConfigInput): string[] {
  const filter = peers.as?.[0];
  if (filter === undefined) return [];
  return [
    `smtpd_milters = ${endpoint(filter.host, spec.ports.milter)}`,
    // Mail Postfix makes itself (bounces) is not scanned or signed.
    'non_smtpd_milters =',
    'milter_protocol = 6',
    `milter_default_action = ${spec.filter.failure === 'open' ? 'accept' : 'tempfail'}`,
    `milter_connect_timeout = ${MILTER_CONNECT_TIMEOUT_S}s`,
    `milter_command_timeout = ${MILTER_COMMAND_TIMEOUT_S}s`,
    // Scanning (clamd included) may take up to rspamd's own IO timeout; Postfix waits a little longer.
    `milter_content_timeout = ${RSPAMD_MILTER_TIMEOUT_S + 10}s`,
  ];
}
