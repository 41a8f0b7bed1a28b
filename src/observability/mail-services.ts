/**
 * Mail pack, second half: the parts behind the mail flow. The director's backends and the
 * backend-sync controller, the certificates the platform serves (as the agents hold them and as the
 * probe sees them), the proxy's LMTP router, and the msas' SMTP AUTH relay to the proxies.
 */
import type { AlertRule, RuleGroup, Scope, Severity } from './rule.ts';

const MIN = 60;
const HOUR = 3600;
const DAY = 86400;
const WHO = '{{ $labels.role }} {{ $labels.instance }}';

/** A backend with no users while another has more than this many is skipped by the director. */
const BUSY_BACKEND_USERS = 10;
/** The controller reconciles on every change and every resync (30 s): most runs failing is not a blip. */
const CONTROLLER_ERROR_RATIO = 0.5;
/**
 * The local CA renews at two thirds of a 90-day life (about 30 days left) and ACME clients at 30 days:
 * 14 days left means renewal has failed for two weeks; 3 days leaves just the time to act by hand.
 */
const CERT_WARNING_S = 14 * DAY;
const CERT_CRITICAL_S = 3 * DAY;
/** A backend's certificate for the proxies, and slapd's for its clients, are renewed 10 days before their end (src/internal-tls/lifetime.ts). */
const BACKEND_TLS_WARNING_S = 7 * DAY;
const BACKEND_TLS_CRITICAL_S = 2 * DAY;
/** Share of LMTP connections told 421 at the router's session cap; MTAs retry, so a trickle is harmless. */
const LMTP_REFUSED_RATIO = 0.05;
/** Deliveries that gave up waiting for a backend connection slot (each is a deferral at the MTA). */
const LMTP_SLOT_TIMEOUTS = 5;
/** SMTP AUTH relay connections failed or refused in ten minutes: an smtpd retries once, a restart or two is noise. */
const AUTH_RELAY_FAILURES = 5;

function backends(s: Scope): AlertRule[] {
  const users = s.sel('mailfleet_backends_users');
  const reconciles = (matchers?: string) => `sum without (result) (rate(${s.sel('mailfleet_backends_reconciles_total', matchers)}[15m]))`;
  return [
    {
      alert: 'MailfleetBackendDown',
      expr: `${s.sel('mailfleet_backends', 'state="down"')} > 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'Mailbox backends down in the director: {{ $value }} (controller {{ $labels.instance }})',
      description: 'The director marks mailbox backends down: their users cannot log in or get mail delivered until they come back or move.',
      runbook: 'mailfleet status lists the backends; check the mailbox instances that are down and the director ring (doveadm director status).',
    },
    {
      alert: 'MailfleetNoBackendUp',
      expr: `${s.sel('mailfleet_backends', 'state="up"')} == 0`,
      forSeconds: 2 * MIN,
      severity: 'critical',
      summary: 'No mailbox backend is up in the director (controller {{ $labels.instance }})',
      description: 'The director has no backend to send users to: nobody can read mail and LMTP deliveries defer.',
      runbook: 'Check the mailbox instances first, then the controller\'s log for why it cannot add them.',
    },
    {
      alert: 'MailfleetBackendWithoutUsers',
      expr: `${users} == 0 and on (namespace, job, instance) (max without (backend) (${users}) > ${BUSY_BACKEND_USERS})`,
      forSeconds: 30 * MIN,
      severity: 'warning',
      summary: 'Mailbox backend {{ $labels.backend }} gets no users (controller {{ $labels.instance }})',
      description: 'The director assigns no users to {{ $labels.backend }} while other backends have them: it carries no load, so the others carry more.',
      runbook: 'doveadm director status: its vhost count may be 0 (left from a drain) or the controller never added it; mailfleet status shows what the controller sees.',
    },
    {
      alert: 'MailfleetControllerFailing',
      expr: `${reconciles('result="error"')} / ${reconciles()} > ${CONTROLLER_ERROR_RATIO}`,
      forSeconds: 15 * MIN,
      severity: 'warning',
      summary: 'Backend-sync controller {{ $labels.instance }} fails to reconcile',
      description: '{{ $value | humanizePercentage }} of its reconciles fail: new mailbox backends do not join the director and dead ones are not taken out.',
      runbook: 'mailfleet_backends_errors_total{kind} says why (unreachable, tls, auth, …); the controller\'s log names the backend and the doveadm call.',
    },
  ];
}

/**
 * What each daemon serves, as its agent reports it (both runtimes), and what the prober is shown. The stand-in is
 * the single host's: there the runtime issues the certificates; in Kubernetes cert-manager does.
 */
function certificates(s: Scope, singleHost: boolean): AlertRule[] {
  const expiring = (alert: string, metric: string, severity: Severity, limit: number, seen: string, runbook: string): AlertRule => ({
    alert,
    expr: `${s.sel(metric)} - time() < ${limit}`,
    forSeconds: severity === 'critical' ? 10 * MIN : HOUR,
    severity,
    summary: `${seen} expires in {{ $value | humanizeDuration }}`,
    description: `Less than ${limit / DAY} days are left: clients that verify certificates will refuse the connection once it expires.`,
    runbook,
  });
  const served = 'Certificate {{ $labels.certificate }} served by {{ $labels.role }} {{ $labels.instance }}';
  const probed = 'Certificate of {{ $labels.endpoint }} ({{ $labels.servername }}) seen by probe {{ $labels.instance }}';
  const servedRunbook = singleHost
    ? 'mailfleet status shows each certificate\'s last renewal error; mailfleet_tls_certificate_renewals_total{result} and the runtime\'s log say why renewal fails (ACME reachability, issuer).'
    : 'kubectl describe certificate (cert-manager) and its issuer say why renewal fails; the agent reloads its daemon once the Secret changes.';
  const probedRunbook = 'The certificate served there: MailfleetCertificateExpiring\'s runbook.';
  const backend = 'The certificate mailbox backend {{ $labels.instance }} serves the proxies';
  const backendRunbook = 'Its agent issues a new one 10 days before the end: its log says why that fails ("backend TLS certificate renewal failed"). A restarted backend issues a new one at start.';
  const ldap = 'The certificate slapd {{ $labels.instance }} serves its clients';
  const ldapRunbook = 'Its agent issues a new one 10 days before the end and has slapd read it over ldapi: its log says why that fails ("LDAP TLS certificate renewal failed"). A restarted ldap instance issues a new one at start.';
  const doveadm = 'The certificate proxy {{ $labels.instance }} serves its doveadm API\'s callers';
  const doveadmRunbook = 'Its agent issues a new one 10 days before the end and has Dovecot reload: its log says why that fails ("doveadm TLS certificate renewal failed"). A restarted proxy issues a new one at start. Until then backend sync and drains refuse it (mailfleet_backends_errors_total{kind="tls"}).';
  const redis = 'The certificate Redis {{ $labels.instance }} serves its clients';
  const redisRunbook = 'Its agent issues a new one 10 days before the end and has Redis read it (CONFIG SET over its own socket): its log says why that fails ("Redis TLS certificate renewal failed"). A restarted kvs issues a new one at start.';
  return [
    expiring('MailfleetRedisTlsExpiring', 'mailfleet_agent_redis_tls_expiry_timestamp_seconds', 'warning', BACKEND_TLS_WARNING_S, redis, redisRunbook),
    expiring('MailfleetRedisTlsExpiring', 'mailfleet_agent_redis_tls_expiry_timestamp_seconds', 'critical', BACKEND_TLS_CRITICAL_S, redis, redisRunbook),
    expiring('MailfleetDoveadmTlsExpiring', 'mailfleet_agent_doveadm_tls_expiry_timestamp_seconds', 'warning', BACKEND_TLS_WARNING_S, doveadm, doveadmRunbook),
    expiring('MailfleetDoveadmTlsExpiring', 'mailfleet_agent_doveadm_tls_expiry_timestamp_seconds', 'critical', BACKEND_TLS_CRITICAL_S, doveadm, doveadmRunbook),
    expiring('MailfleetLdapTlsExpiring', 'mailfleet_agent_ldap_tls_expiry_timestamp_seconds', 'warning', BACKEND_TLS_WARNING_S, ldap, ldapRunbook),
    expiring('MailfleetLdapTlsExpiring', 'mailfleet_agent_ldap_tls_expiry_timestamp_seconds', 'critical', BACKEND_TLS_CRITICAL_S, ldap, ldapRunbook),
    expiring('MailfleetBackendTlsExpiring', 'mailfleet_agent_backend_tls_expiry_timestamp_seconds', 'warning', BACKEND_TLS_WARNING_S, backend, backendRunbook),
    expiring('MailfleetBackendTlsExpiring', 'mailfleet_agent_backend_tls_expiry_timestamp_seconds', 'critical', BACKEND_TLS_CRITICAL_S, backend, backendRunbook),
    expiring('MailfleetCertificateExpiring', 'mailfleet_agent_certificate_expiry_timestamp_seconds', 'warning', CERT_WARNING_S, served, servedRunbook),
    expiring('MailfleetCertificateExpiring', 'mailfleet_agent_certificate_expiry_timestamp_seconds', 'critical', CERT_CRITICAL_S, served, servedRunbook),
    expiring('MailfleetProbeCertificateExpiring', 'mailfleet_probe_certificate_expiry_timestamp_seconds', 'warning', CERT_WARNING_S, probed, probedRunbook),
    expiring('MailfleetProbeCertificateExpiring', 'mailfleet_probe_certificate_expiry_timestamp_seconds', 'critical', CERT_CRITICAL_S, probed, probedRunbook),
    ...(singleHost
      ? [{
          alert: 'MailfleetCertificateStandIn',
          expr: `${s.sel('mailfleet_tls_certificate_stand_in')} == 1`,
          forSeconds: 30 * MIN,
          severity: 'warning' as const,
          summary: 'A stand-in is served for certificate {{ $labels.certificate }}',
          description: 'Its issuer has not delivered the certificate, so a stand-in from the local CA is served: clients that verify refuse it.',
          runbook: 'The runtime\'s log and mailfleet_tls_certificate_renewals_total{result="failure"} say why the issuer fails.',
        }]
      : []),
  ];
}

function lmtpRouter(s: Scope): AlertRule[] {
  const rate = (metric: string) => `rate(${s.sel(metric)}[10m])`;
  const refused = rate('mailfleet_lmtp_router_sessions_refused_total');
  return [
    {
      alert: 'MailfleetLmtpSessionsRefused',
      expr: `${refused} / (${rate('mailfleet_lmtp_router_sessions_total')} + ${refused}) > ${LMTP_REFUSED_RATIO}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: `LMTP router on ${WHO} refuses {{ $value | humanizePercentage }} of sessions`,
      description: 'The router is at its session cap and tells MTAs 421: their deliveries defer and queues grow.',
      runbook: 'Compare mailfleet_lmtp_router_sessions with mailfleet_lmtp_router_session_limit; add proxy replicas or memory (the cap follows the memory limit).',
    },
    {
      alert: 'MailfleetLmtpBackendSlotTimeouts',
      expr: `increase(${s.sel('mailfleet_lmtp_router_backend_slot_timeouts_total')}[10m]) >= ${LMTP_SLOT_TIMEOUTS}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: `LMTP router on ${WHO} times out waiting for mailbox connections`,
      description: '{{ $value | humanize }} deliveries in ten minutes gave up waiting for a connection to their mailbox backend: a backend is slow or overloaded.',
      runbook: 'mailfleet_lmtp_router_backend_queued_total and the backends\' LMTP latency show which backend; check its disk and load.',
    },
  ];
}

/**
 * The msas' SMTP AUTH relay to the proxies (src/auth-relay): an msa that cannot carry logins to a proxy (its users
 * cannot send), and a proxy refusing peers without the relay key on its auth port (an msa holding another key, or
 * something else on the pod network trying Dovecot auth).
 */
function authRelay(s: Scope): AlertRule[] {
  const increase = (metric: string, matchers: string) => `sum without (result) (increase(${s.sel(metric, matchers)}[10m]))`;
  return [
    {
      alert: 'MailfleetSmtpAuthRelayFailing',
      expr: `${increase('mailfleet_auth_relay_client_connections_total', 'result=~"failed|no_target"')} > ${AUTH_RELAY_FAILURES}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: `${WHO} cannot carry SMTP AUTH to a proxy`,
      description: '{{ $value | humanize }} of its Postfix\'s SASL connections in ten minutes found no proxy or none that took the TLS handshake with the relay key: submissions on it get no AUTH and fail.',
      runbook: 'The msa agent\'s log names the proxy and the error; check the proxies\' readiness and that msa and proxy pods mount the same auth-relay-key.',
    },
    {
      alert: 'MailfleetSmtpAuthRelayRefusing',
      expr: `${increase('mailfleet_auth_relay_server_connections_total', 'result="refused"')} > ${AUTH_RELAY_FAILURES}`,
      forSeconds: 10 * MIN,
      severity: 'warning',
      summary: `${WHO} refuses connections to its SMTP AUTH port`,
      description: '{{ $value | humanize }} connections in ten minutes did not finish a TLS handshake with the relay key: an msa with another key, or a peer on the pod network trying Dovecot auth.',
      runbook: 'The proxy agent\'s log names the peer address; an msa there means its auth-relay-key differs from the proxy\'s (a Secret changed on one side).',
    },
  ];
}

/**
 * `singleHost`: the runtime issues the certificates (its stand-in rule); Kubernetes: cert-manager does.
 * `authRelayRuns`: msas relay SMTP AUTH to proxies; its rules exist only then.
 */
export function mailServiceGroups(s: Scope, singleHost: boolean, authRelayRuns: boolean): RuleGroup[] {
  return [
    { name: 'mailfleet-backends', rules: backends(s) },
    { name: 'mailfleet-tls', rules: certificates(s, singleHost) },
    { name: 'mailfleet-lmtp', rules: lmtpRouter(s) },
    ...(authRelayRuns ? [{ name: 'mailfleet-auth-relay', rules: authRelay(s) }] : []),
  ];
}
