/**
 * Platform pack: every instance, whatever its role. Scrape targets (`up` from the scraper) and the
 * agent's own view of its daemon (`mailfleet_agent_*`). One instance down is a warning (every
 * scaled role has replicas, MTAs retry); a role with no instance left is critical.
 */
import type { AlertRule, RuleGroup, Scope } from './rule.ts';

const MIN = 60;
const WHO = '{{ $labels.role }} {{ $labels.instance }}';
/** Ready→not ready→ready is two changes; six in half an hour is three outages, each too short to alert on. */
const FLAP_CHANGES = 6;

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

export function platformGroups(s: Scope): RuleGroup[] {
  return [{ name: 'mailfleet-platform', rules: instances(s) }];
}
