/**
 * The metric names the platform exports, as its metrics contract lists them (exporter, prober, alert
 * rules and dashboards agree on these). Histograms are listed by their base name.
 */

const AGENT = [
  'mailfleet_agent_daemon_up', 'mailfleet_agent_ready', 'mailfleet_agent_draining', 'mailfleet_agent_readiness_checks_total',
  'mailfleet_agent_readiness_check_duration_seconds', 'mailfleet_agent_certificate_reloads_total', 'mailfleet_agent_certificate_expiry_timestamp_seconds',
  'mailfleet_agent_backend_tls_expiry_timestamp_seconds', 'mailfleet_agent_ldap_tls_expiry_timestamp_seconds', 'mailfleet_agent_doveadm_tls_expiry_timestamp_seconds',
  'mailfleet_agent_redis_tls_expiry_timestamp_seconds', 'mailfleet_redis_relay_connections_total', 'mailfleet_redis_relay_connections',
];

const LMTP_ROUTER = [
  'sessions_total', 'sessions_refused_total', 'session_limit', 'sessions', 'recipients_total', 'deliveries_total', 'message_bytes_total',
  'backend_connections_total', 'backend_queued_total', 'backend_slot_timeouts_total', 'backend_retries_total', 'backend_idle_connections',
].map((n) => `mailfleet_lmtp_router_${n}`);

const QUOTA_RELAY = [
  'requests_total', 'fail_open_total', 'protocol_errors_total', 'request_duration_seconds', 'connections', 'backend_connections',
].map((n) => `mailfleet_quota_relay_${n}`);

const AUTH_RELAY = [
  'server_connections_total', 'server_connections', 'client_connections_total', 'client_connections',
].map((n) => `mailfleet_auth_relay_${n}`);

const BACKEND_SYNC = [
  'mailfleet_backends', 'mailfleet_backends_users', 'mailfleet_backends_reconcile_duration_seconds', 'mailfleet_backends_reconciles_total',
  'mailfleet_backends_errors_total', 'mailfleet_backends_steps_total', 'mailfleet_backends_sync_latency_seconds',
];

const TLS = ['mailfleet_tls_certificate_expiry_timestamp_seconds', 'mailfleet_tls_certificate_renewals_total', 'mailfleet_tls_certificate_stand_in'];

const POSTFIX = [
  'log_lines_total', 'log_lines_unsupported_total',
  'smtpd_connects_total', 'smtpd_disconnects_total', 'smtpd_connections_lost_total', 'smtpd_messages_processed_total', 'smtpd_rejects_total',
  'smtpd_sasl_authentication_failures_total', 'smtpd_tls_connections_total', 'smtpd_forward_confirmed_reverse_dns_errors_total',
  'deliveries_total', 'delivery_delay_seconds', 'deferred_total', 'bounced_total', 'smtp_tls_connections_total', 'smtp_connection_timeouts_total',
  'qmgr_messages_inserted_total', 'qmgr_inserted_recipients', 'qmgr_inserted_size_bytes', 'qmgr_messages_removed_total', 'qmgr_messages_expired_total',
  'cleanup_messages_processed_total', 'cleanup_messages_rejected_total', 'cleanup_messages_not_accepted_total', 'bounce_notifications_total',
  'milter_failures_total', 'postscreen_actions_total', 'postscreen_rejects_total', 'postscreen_dnsbl_rank', 'dnsbl_listings_total',
  'queue_messages', 'queue_size_bytes', 'queue_oldest_message_age_seconds', 'queue_message_age_seconds', 'queue_message_size_bytes', 'queue_scrape_errors_total',
].map((n) => `mailfleet_postfix_${n}`);

/** Dovecot 2.3's names for each metric definition: a count, the summed duration, and a histogram when quantized. */
const DOVECOT = ['auth_success', 'auth_failure', 'imap_command', 'pop3_session', 'lmtp_command', 'mail_delivery', 'proxy_session']
  .flatMap((m) => [`dovecot_${m}_total`, `dovecot_${m}_duration_seconds_total`, `dovecot_${m}_duration_seconds`]);

const PROBE = [
  'mailfleet_probe_success', 'mailfleet_probe_runs_total', 'mailfleet_probe_failures_total', 'mailfleet_probe_duration_seconds',
  'mailfleet_probe_stage_duration_seconds', 'mailfleet_probe_last_success_timestamp_seconds', 'mailfleet_probe_certificate_expiry_timestamp_seconds',
];

const POLICY = [
  'mailfleet_policy_requests_total', 'mailfleet_policy_request_duration_seconds', 'mailfleet_policy_fail_open_total', 'mailfleet_policy_protocol_errors_total',
  'mailfleet_policy_redis_up', 'mailfleet_policy_connections', 'mailfleet_policy_rules', 'mailfleet_policy_connections_shed_total', 'mailfleet_policy_leased_total',
  // Dovecot's auth policy (brute-force protection of logins).
  'mailfleet_policy_auth_requests_total', 'mailfleet_policy_auth_request_duration_seconds', 'mailfleet_policy_auth_failures_counted_total',
  'mailfleet_policy_auth_fail_open_total', 'mailfleet_policy_auth_refused_requests_total',
];

/** rspamd 3.4's own names, relayed by the `as` agent (with its role and instance), and the relay's error counter. */
const RSPAMD = [
  'rspamd_scanned_total', 'rspamd_spam_total', 'rspamd_ham_total', 'rspamd_learned_total', 'rspamd_actions_total', 'rspamd_connections',
  'mailfleet_agent_rspamd_scrape_errors_total',
];

export const CONTRACT_METRICS: ReadonlySet<string> = new Set([...AGENT, ...LMTP_ROUTER, ...QUOTA_RELAY, ...AUTH_RELAY, ...BACKEND_SYNC, ...TLS, ...POSTFIX, ...DOVECOT, ...PROBE, ...POLICY, ...RSPAMD]);
