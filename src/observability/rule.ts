/**
 * The alert-rule model every pack is written in, and its rendering to Prometheus rule format (which
 * vmalert reads unchanged). A pack is a list of groups of rules; the expression of a rule is built from
 * a {@link Scope}, so that one pack serves Kubernetes (series carry the platform's `namespace`) and the
 * single host (no `namespace` label at all).
 */
import { configYaml } from '../config/index.ts';

/** `none`: the watchdog's, which always fires and pages nobody (Alertmanager routes it apart). */
export type Severity = 'critical' | 'warning' | 'none';

export interface AlertRule {
  /** `alertname`: PascalCase, `Mailfleet` first. Two rules may share it with different severities (see Alertmanager's inhibition). */
  alert: string;
  /** PromQL (the MetricsQL subset vmalert shares with Prometheus). */
  expr: string;
  /** How long `expr` must hold before the alert fires, before `spec.alerting.forScale` applies. */
  forSeconds: number;
  severity: Severity;
  /** One line, naming the role and instance (or what the rule aggregates over) through `$labels`. */
  summary: string;
  /** What it means for the mail, with the figures (`$value`). */
  description: string;
  /** Where to look first. */
  runbook: string;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** Builds selectors scoped to the platform. */
export interface Scope {
  /** `metric{namespace="…",matchers}`, or `metric{matchers}` where series carry no namespace; no braces when both are empty. */
  sel(metric: string, matchers?: string): string;
}

export interface RenderOptions {
  /** Multiplies every `for:`; see AlertingSpec.forScale. */
  forScale: number;
  /** Each group's `interval`. */
  evaluationSeconds: number;
}

/** No `for:` is rendered shorter than this, however small `forScale` is (except a rule that has none). */
export const MIN_FOR_SECONDS = 1;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function scope(namespace?: string): Scope {
  if (namespace !== undefined && !NAMESPACE.test(namespace)) throw new RangeError(`namespace ${JSON.stringify(namespace)} is not a Kubernetes namespace name`);
  const own = namespace === undefined ? [] : [`namespace="${namespace}"`];
  return {
    sel(metric, matchers) {
      const all = [...own, ...(matchers === undefined || matchers === '' ? [] : [matchers])];
      return all.length === 0 ? metric : `${metric}{${all.join(',')}}`;
    },
  };
}

/** `5400` → `1h30m`, `90` → `1m30s`, `3` → `3s`: Prometheus' duration syntax, largest units first. */
export function formatDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new RangeError(`duration must be a whole number of seconds ≥ 0, not ${seconds}`);
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
}

/** The `for:` of a rule after scaling: whole seconds, never below {@link MIN_FOR_SECONDS} (a rule without one keeps none). */
export function scaledFor(forSeconds: number, forScale: number): number {
  if (!(forScale > 0 && forScale <= 1)) throw new RangeError(`forScale must be above 0 and at most 1, not ${forScale}`);
  if (forSeconds === 0) return 0;
  return Math.max(MIN_FOR_SECONDS, Math.round(forSeconds * forScale));
}

/**
 * The alert that a pack is blind: none of the series a source would give exists (one selector each), so the pack's
 * rules on them cannot fire. One alert name for every pack, told apart by `source` (what must be scraped).
 */
export function sourceMissing(pack: string, sources: readonly { selector: string; source: string }[]): AlertRule {
  return {
    alert: 'MailfleetAlertSourceMissing',
    expr: sources.map(({ selector, source }) => `label_replace(absent(${selector}), "source", "${source}", "", "")`).join(' or '),
    forSeconds: 30 * 60,
    severity: 'warning',
    summary: `No {{ $labels.source }} series{{ if $labels.namespace }} for namespace {{ $labels.namespace }}{{ end }}: the ${pack} pack is blind`,
    description: `Rules of the ${pack} pack read {{ $labels.source }}'s series and there are none, so they cannot fire. Scrape it into the VictoriaMetrics vmalert asks (spec.kubernetes.clusterMetrics names kube-state-metrics and node exporters for the rendered one), or load this pack where it is scraped.`,
    runbook: 'Check that {{ $labels.source }} runs and that the scrape job vmalert\'s metrics come from keeps its labels (honor_labels).',
  };
}

/** One rule file: `groups:` with each group's interval, every rule with its severity and annotations. */
export function renderRuleFile(groups: readonly RuleGroup[], opts: RenderOptions): string {
  if (!Number.isInteger(opts.evaluationSeconds) || opts.evaluationSeconds < 1) {
    throw new RangeError(`evaluationSeconds must be a whole number of seconds ≥ 1, not ${opts.evaluationSeconds}`);
  }
  return configYaml({
    groups: groups.map((g) => ({
      name: g.name,
      interval: formatDuration(opts.evaluationSeconds),
      rules: g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        for: formatDuration(scaledFor(r.forSeconds, opts.forScale)),
        labels: { severity: r.severity },
        annotations: { summary: r.summary, description: r.description, runbook: r.runbook },
      })),
    })),
  });
}
