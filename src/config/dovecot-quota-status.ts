/**
 * Dovecot's quota-status service on a `mailbox` backend (`spec.quota.checkAtRcpt`): a Postfix policy service that
 * answers, for a `recipient` and a `size`, whether the message fits in the user's quota. Only the quota relay in the
 * proxies' agents asks it (src/quota): the MTAs cannot know which backend serves a user, the director does.
 *
 * Answers: `DUNNO` when it fits and for a user the backend does not know (the MTA's own LDAP lookup refuses unknown
 * recipients before this is asked), {@link QUOTA_OVER_REPLY} when it does not. Dovecot's defaults are `OK` (which
 * at RCPT would skip every later restriction) and a reject for unknown users: both are set here.
 */
import type { ConfigInput } from './context.ts';
import { serviceBlock } from './dovecot-common.ts';

/** What the MTA answers a recipient whose mailbox is full (RFC 3463: 5.2.2 mailbox full). */
export const QUOTA_OVER_REPLY = '552 5.2.2 Mailbox is full';

/** The `plugin { }` lines; none while the check is off. */
export function quotaStatusPluginSettings({ spec }: ConfigInput): string[] {
  if (!spec.quota.checkAtRcpt) return [];
  return ['  quota_status_success = DUNNO', '  quota_status_nouser = DUNNO', `  quota_status_overquota = "${QUOTA_OVER_REPLY}"`];
}

/**
 * The service: one process per connection (quota-status serves one client at a time), reused for the next; the relay
 * keeps its connections open across requests, so a process is started per relay connection, not per question. Two are
 * kept started for the first questions after a restart.
 */
export function quotaStatusService({ spec, instance }: ConfigInput): string[] {
  if (!spec.quota.checkAtRcpt) return [];
  return serviceBlock('quota-status', [{ name: 'quota-status', address: instance.listen, port: spec.ports.quotaStatus }], [
    'executable = quota-status -p postfix',
    'client_limit = 1',
    'process_min_avail = 2',
  ]);
}
