/**
 * Platform pack: every instance, whatever its role. Scrape targets (`up` from the scraper) and the
 * agent's own view of its daemon (`mailfleet_agent_*`). One instance down is a warning (every
 * scaled role has replicas, MTAs retry); a role with no instance left, or none ever seen, is critical.
 * And the watchdog: an alert that always fires, so that a receiver that stops hearing it knows the
 * alerting itself (scraping, rule evaluation, Alertmanager, the way to the receiver) is broken.
 */
import type { AlertRule, RuleGroup, Scope } from './rule.ts';

const MIN = 60;
const WHO = '{{ $labels.role }} {{ $labels.instance }}';
/** Ready→not ready→ready is two changes; six in half an hour is three outages, each too short to alert on. */
const FLAP_CHANGES = 6;

/** The alert that always fires: Alertmanager sends it to `spec.alerting.watchdogWebhookUrl` alone (src/config/alertmanager.ts). */
export const WATCHDOG_ALERT = 'MailfleetWatchdog';

function watchdog(): AlertRule {
  return {
    alert: WATCHDOG_ALERT,
    expr: 'vector(1)',
    forSeconds: 0,
    severity: 'none',
    summary: 'The alerting pipeline works',
    description: 'This alert always fires. A receiver that stops getting it (spec.alerting.watchdogWebhookUrl, every few minutes) knows that rule evaluation, Alertmanager or the way to the receiver is broken, and with it every other alert.',
    runbook: 'Nothing to do while it fires. If it stops arriving: vmalert\'s and Alertmanager\'s logs and /-/healthy, then the network to the receiver.',
  };
}

/**
 * `up` of a role exists only once one of its instances is a scrape target, so MailfleetRoleDown cannot see a role
 * that never started (Pending pods, an image that does not pull, discovery broken): this one can, for every role
 * the spec runs.
 */
function absentRoles(s: Scope, roles: readonly string[]): AlertRule[] {
  if (roles.length === 0) return [];
  return [{
    alert: 'MailfleetRoleAbsent',
    expr: roles.map((role) => `absent(${s.sel('up', `role="${role}"`)})`).join(' or '),
    forSeconds: 10 * MIN,
    severity: 'critical',
    summary: 'No {{ $labels.role }} instance is a scrape target',
    description: 'The spec runs {{ $labels.role }}, yet none of its instances has been scraped for 10 minutes: it never started, or the scraper cannot find it.',
    runbook: 'kubectl get pods -l app.kubernetes.io/component={{ $labels.role }} and kubectl describe (Pending, ImagePullBackOff, SysctlForbidden); on the single host mailfleet status.',
  }];
}

function instances(s: Scope): AlertRule[] {
  const draining = s.sel('mailfleet_agent_draining');
  return [
    {
      alert: 'MailfleetInstanceDown',
      expr: `${s.sel('up')} == 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: `${WHO} cannot be scraped`,
      description: 'The scraper cannot reach {{ $labels.instance }} (job {{ $labels.job }}): the instance or its agent is down, or the network between them.',
      runbook: 'mailfleet status (single host) or kubectl get pods; then the agent\'s log.',
    },
    {
      alert: 'MailfleetRoleDown',
      expr: `max by (namespace, role) (${s.sel('up')}) == 0`,
      forSeconds: 2 * MIN,
      severity: 'critical',
      summary: 'No {{ $labels.role }} instance can be scraped',
      description: 'Every {{ $labels.role }} instance is unreachable: the role\'s service is down for everybody.',
      runbook: 'mailfleet status (single host) or kubectl get pods -l app.kubernetes.io/component={{ $labels.role }}; then the instances\' logs.',
    },
    {
      alert: 'MailfleetAgentNotReady',
      expr: `${s.sel('mailfleet_agent_ready')} == 0 and ${draining} == 0`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: `${WHO} is not ready`,
      description: 'The daemon does not answer its protocol dialogue and the instance is not draining: it gets no traffic.',
      runbook: 'mailfleet_agent_readiness_checks_total{result} and the agent\'s log show the failing dialogue.',
    },
    {
      alert: 'MailfleetRoleNotReady',
      expr: `max by (namespace, role) (${s.sel('mailfleet_agent_ready')}) == 0`,
      forSeconds: 2 * MIN,
      severity: 'critical',
      summary: 'No {{ $labels.role }} instance is ready',
      description: 'Every {{ $labels.role }} instance fails its readiness dialogue or drains: the role serves nothing.',
      runbook: 'Check a dependency all of them share (ldap, kvs, proxy) and the agents\' logs.',
    },
    {
      alert: 'MailfleetDaemonDown',
      expr: `${s.sel('mailfleet_agent_daemon_up')} == 0 and ${draining} == 0`,
      forSeconds: 2 * MIN,
      severity: 'warning',
      summary: `The daemon of ${WHO} is not running`,
      description: 'The agent runs but its daemon (Postfix, Dovecot, slapd, Redis) has exited and has not come back.',
      runbook: 'The agent\'s log holds the daemon\'s last output; a config or permission error stops it at start.',
    },
    {
      alert: 'MailfleetReadinessFlapping',
      expr: `changes(${s.sel('mailfleet_agent_ready')}[30m]) >= ${FLAP_CHANGES}`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: `Readiness of ${WHO} flaps`,
      description: 'It changed {{ $value }} times in half an hour: clients are sent to it and away again.',
      runbook: 'mailfleet_agent_readiness_check_duration_seconds near the timeout means an overloaded daemon; check its load and dependencies.',
    },
  ];
}

/** `roles`: those the spec runs, each expected among the scrape targets. */
export function platformGroups(s: Scope, roles: readonly string[]): RuleGroup[] {
  return [{ name: 'mailfleet-platform', rules: [...instances(s), ...absentRoles(s, roles), watchdog()] }];
}
