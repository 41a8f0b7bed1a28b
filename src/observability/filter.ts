/**
 * Mail pack, filtering: rspamd (`as`) as Postfix's milter and clamd (`av`) behind it. Postfix does not count
 * milter failures; the agent's log exporter does (`mailfleet_postfix_milter_failures_total`), and the `as` agent
 * relays rspamd's own metrics (`rspamd_*`, absent while rspamd does not answer). rspamd 3.4 exports no per-symbol
 * or per-scanner counter (CLAM_VIRUS_FAIL is only in its history and log), so clamd is judged by its own instances.
 * No rule fires on the mere absence of a role's series (a spec may name replicas a renderer does not run, e.g. `as`
 * and `av` while no mta or msa runs); on the single host every instance is a target, down or not. An `av` pod
 * waiting for its first signatures reports `mailfleet_agent_ready` 0, so the rule on an unready clamd sees it.
 */
import type { AlertRule, RuleGroup, Scope } from './rule.ts';

const MIN = 60;

export interface FilterRuleOptions {
  /** Whether the spec runs rspamd (`filterRuns`): the rules about its absence exist only then. */
  filterRuns: boolean;
  /** Whether the spec runs clamd (`antivirusRuns`). */
  antivirusRuns: boolean;
  /** `spec.filter.failure`: what Postfix does when it cannot ask rspamd (open: accept unscanned; closed: 4xx). */
  failure: 'open' | 'closed';
}

function milter(s: Scope, failure: 'open' | 'closed'): AlertRule {
  const failures = `sum without (stage, reason) (increase(${s.sel('mailfleet_postfix_milter_failures_total')}[5m])) > 0`;
  const accepted = `sum without (sasl_method) (increase(${s.sel('mailfleet_postfix_smtpd_messages_processed_total')}[5m])) > 0`;
  const runbook = 'mailfleet_postfix_milter_failures_total{stage,reason} says where and why (refused: rspamd is not listening; timeout: it is overloaded); then the as instances and their log.';
  return failure === 'open'
    ? {
        alert: 'MailfleetMilterFailingOpen',
        expr: `${failures} and on (namespace, instance) ${accepted}`,
        forSeconds: 2 * MIN,
        severity: 'warning',
        summary: '{{ $labels.role }} {{ $labels.instance }} accepts mail without scanning it',
        description: 'Postfix could not ask rspamd {{ $value | humanize }} times in five minutes while it accepted mail: that mail was not checked for spam, viruses or DMARC, nor signed (milter_default_action = accept).',
        runbook,
      }
    : {
        alert: 'MailfleetMilterFailingClosed',
        expr: failures,
        forSeconds: 2 * MIN,
        severity: 'warning',
        summary: '{{ $labels.role }} {{ $labels.instance }} defers mail it cannot scan',
        description: 'Postfix could not ask rspamd {{ $value | humanize }} times in five minutes and answered 4xx each time (milter_default_action = tempfail): senders retry, mail is late.',
        runbook,
      };
}

function filterDown(s: Scope): AlertRule[] {
  const up = s.sel('up', 'role="as"');
  const scanned = s.sel('rspamd_scanned_total', 'role="as"');
  return [
    {
      alert: 'MailfleetFilterDown',
      expr: `${up} == 0 or (${up} == 1 unless on (namespace, instance) ${scanned})`,
      forSeconds: 5 * MIN,
      severity: 'warning',
      summary: 'rspamd on {{ $labels.role }} {{ $labels.instance }} does not answer',
      description: 'The instance cannot be scraped, or its agent gets no metrics from rspamd: the mta and msa that use it as their milter fail open (or defer, when the filter fails closed).',
      runbook: 'mailfleet_agent_rspamd_scrape_errors_total{reason} on the as agent, then its log (rspamd\'s own output); a cold start compiles for about ten seconds.',
    },
    {
      alert: 'MailfleetFilterDown',
      // Not absent(): where a role is not rendered, that would fire for ever. An instance down still has its
      // up series (0) while it is a target, so this holds on the single host whichever part is down.
      expr: `count by (namespace, role) (${up}) unless on (namespace, role) count by (namespace, role) (${scanned})`,
      forSeconds: 5 * MIN,
      severity: 'critical',
      summary: 'No rspamd answers for the {{ $labels.role }} role: mail is not filtered',
      description: 'No as instance relays rspamd\'s metrics: every message is accepted unscanned (filter failing open) or deferred (failing closed).',
      runbook: 'mailfleet status (single host) or kubectl get pods -l app.kubernetes.io/component=as; then the as agents\' logs (kvs unreachable or a bad config stops rspamd).',
    },
  ];
}

function antivirus(s: Scope): AlertRule {
  const up = s.sel('up', 'role="av"');
  const ready = s.sel('mailfleet_agent_ready', 'role="av"');
  return {
    alert: 'MailfleetAntivirusUnavailable',
    expr: `max by (namespace, role) (${up}) == 0 or max by (namespace, role) (${ready}) == 0`,
    forSeconds: 5 * MIN,
    severity: 'warning',
    summary: 'No {{ $labels.role }} (clamd) instance is ready: mail is not scanned for viruses',
    description: 'rspamd cannot reach clamd (CLAM_VIRUS_FAIL): messages pass without a virus scan, spam checks still run.',
    runbook: 'A clamd without signatures does not start: check the signature source (the updater\'s log, or the directory named in spec.filter.antivirus.signatures), then the av agents\' logs.',
  };
}

export function filterGroups(s: Scope, opts: FilterRuleOptions): RuleGroup[] {
  if (!opts.filterRuns) return [];
  return [{ name: 'mailfleet-filter', rules: [milter(s, opts.failure), ...filterDown(s), ...(opts.antivirusRuns ? [antivirus(s)] : [])] }];
}
