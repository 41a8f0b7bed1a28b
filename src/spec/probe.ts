/** Where the prober runs and what it probes, derived from the spec; its field defaults and checks. */
import { demoAccounts } from './accounts.ts';
import { antivirusRuns, filterRuns } from './filter.ts';
import { policyRuns } from './policy.ts';
import type { InstanceRole, PlatformSpec } from './types.ts';

/** The two ways into the platform a cycle probes: submission (`msa`) and inbound MX (`mta`). */
export const PROBE_PATHS = ['msa', 'mta'] as const;
export type ProbePath = (typeof PROBE_PATHS)[number];

/** The paths this platform has: those whose role runs, when a `proxy` runs to read the mail back. */
export function probePaths(spec: Pick<PlatformSpec, 'roles'>): ProbePath[] {
  if (spec.roles.proxy.replicas === 0) return [];
  return PROBE_PATHS.filter((p) => spec.roles[p].replicas > 0);
}

/** Whether the prober runs: enabled, and something to probe. */
export function probeRuns(spec: Pick<PlatformSpec, 'roles' | 'probe'>): boolean {
  return spec.probe.enabled && probePaths(spec).length > 0;
}

/**
 * Instances of a role on the single host: the spec's replicas for a mail role; one prober, one policy server, one
 * rspamd and one clamd while each runs (one rspamd: Postfix names one milter).
 */
export function instanceReplicas(spec: PlatformSpec, role: InstanceRole): number {
  if (role === 'probe') return probeRuns(spec) ? 1 : 0;
  if (role === 'policy') return policyRuns(spec) ? 1 : 0;
  if (role === 'as') return filterRuns(spec) ? 1 : 0;
  if (role === 'av') return antivirusRuns(spec) ? 1 : 0;
  return spec.roles[role].replicas;
}

/** Fills `address` when the spec leaves it out: `probe@<first domain>`. */
export function fillProbeDefaults(spec: PlatformSpec): void {
  const probe = spec.probe as { address?: string };
  probe.address ??= `probe@${spec.domains[0] ?? ''}`;
}

/** Problems of `spec.probe` beyond the schema: a served domain, an account of its own, a deadline inside the interval. */
export function probeProblems(spec: PlatformSpec): string[] {
  const { probe } = spec;
  const problems: string[] = [];
  const domain = probe.address.split('@')[1] ?? '';
  if (!spec.domains.includes(domain)) problems.push(`spec.probe.address: domain ${domain} is not in spec.domains`);
  if (demoAccounts(spec).some((a) => a.address === probe.address)) {
    problems.push(`spec.probe.address: ${probe.address} is also a demo account; the prober needs a mailbox of its own (it deletes its messages there)`);
  }
  if (probe.timeoutSeconds > probe.intervalSeconds) {
    problems.push(`spec.probe.timeoutSeconds: at most spec.probe.intervalSeconds (${probe.intervalSeconds}); a stage must end before the next cycle is due`);
  }
  const screen = spec.mta.postscreen;
  if (probeRuns(spec) && screen.enabled && probe.timeoutSeconds <= screen.greetWaitSeconds) {
    problems.push(`spec.probe.timeoutSeconds: more than spec.mta.postscreen.greetWaitSeconds (${screen.greetWaitSeconds}); postscreen holds a new client address that long before the mta greets it, the prober's too`);
  }
  const bundle = probe.caBundle;
  if (bundle !== undefined && (bundle.secret === undefined) === (bundle.configMap === undefined)) {
    problems.push('spec.probe.caBundle: name either secret or configMap (the one holding the CA certificates under key)');
  }
  return problems;
}
