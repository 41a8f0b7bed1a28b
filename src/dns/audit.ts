/**
 * `mailfleet dns audit`: for one host name, the queries glibc sends under each resolver profile —
 * the given resolv.conf, the Kubernetes default, and mailfleet's rendered dnsConfig — predicted,
 * and with `observe` also watched on the real resolver.
 */
import type { ObservedQuery } from './audit-server.ts';
import { applyPodDnsConfig, KUBERNETES_DEFAULT_RESOLVER, MAILFLEET_DNS_CONFIG, podResolvConf } from './kubernetes.ts';
import { observeResolver } from './observe.ts';
import { parseResolvConf, type ResolvConf } from './resolv-conf.ts';
import { AF_UNSPEC_TYPES, predictQueries, type AddressType, type Prediction } from './search.ts';

export interface AuditProfile {
  readonly id: 'resolv-conf' | 'kubernetes-default' | 'mailfleet';
  readonly title: string;
  readonly conf: ResolvConf;
}

export interface ProfileObservation {
  readonly queries: readonly ObservedQuery[];
  /** getent's exit status: 0 resolved, 2 not found. */
  readonly exitCode: number;
  /** Observed names and types equal the prediction, in order. */
  readonly matches: boolean;
}

export interface ProfileAudit {
  readonly profile: AuditProfile;
  readonly prediction: Prediction;
  readonly observation?: ProfileObservation;
}

export interface AuditReport {
  readonly name: string;
  /** Address types asked for: both for AF_UNSPEC, or what AI_ADDRCONFIG left when observing. */
  readonly types: readonly AddressType[];
  readonly observed: boolean;
  readonly profiles: readonly ProfileAudit[];
}

export const KUBERNETES_DEFAULT_TITLE = 'Kubernetes default (dnsPolicy ClusterFirst)';
export const MAILFLEET_TITLE = 'mailfleet dnsConfig';

/** The two profiles every audit compares against: the Kubernetes default and mailfleet's dnsConfig. */
export function kubernetesProfiles(): AuditProfile[] {
  return [
    { id: 'kubernetes-default', title: KUBERNETES_DEFAULT_TITLE, conf: parseResolvConf(podResolvConf(KUBERNETES_DEFAULT_RESOLVER)) },
    { id: 'mailfleet', title: MAILFLEET_TITLE, conf: parseResolvConf(podResolvConf(applyPodDnsConfig(KUBERNETES_DEFAULT_RESOLVER, MAILFLEET_DNS_CONFIG))) },
  ];
}

/** True if the observed queries are the predicted ones: same names (any case) and types, same order. */
export function sameQueries(predicted: Prediction['queries'], observed: readonly ObservedQuery[]): boolean {
  return (
    predicted.length === observed.length &&
    predicted.every((q, i) => q.type === observed[i]?.type && q.name.toLowerCase() === observed[i]?.name.toLowerCase())
  );
}

export interface AuditOptions {
  readonly name: string;
  readonly profiles: readonly AuditProfile[];
  /** Address types to predict for. Default {@link AF_UNSPEC_TYPES}. */
  readonly types?: readonly AddressType[];
  /** Run the real resolver for each profile (root; see `observe.ts`). */
  readonly observe?: boolean;
  /** Loopback address of the counting server when observing. */
  readonly serverHost?: string;
}

export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const types = options.types ?? AF_UNSPEC_TYPES;
  const profiles: ProfileAudit[] = [];
  for (const profile of options.profiles) {
    const prediction = predictQueries(profile.conf, options.name, { types });
    if (!options.observe) {
      profiles.push({ profile, prediction });
      continue;
    }
    const observed = await observeResolver({ name: options.name, conf: profile.conf, ...(options.serverHost ? { serverHost: options.serverHost } : {}) });
    profiles.push({
      profile,
      prediction,
      observation: { queries: observed.queries, exitCode: observed.exitCode, matches: sameQueries(prediction.queries, observed.queries) },
    });
  }
  return { name: options.name, types, observed: options.observe === true, profiles };
}
