/**
 * Actual state and deletion. Actual state is every object of every kind the renderer can produce
 * that carries the platform label, listed by label selector across all namespaces (a changed
 * spec.kubernetes.namespace leaves objects behind in the old one), or in the platform's own namespace
 * only when the operator is namespaced. Objects without the label are
 * never listed, so never touched. Kinds the cluster does not serve (a CRD not installed) hold nothing.
 */
import { PLATFORM_LABEL } from '../context.ts';
import type { KubeObject } from '../objects.ts';
import { KubeApiError, type KubeApi } from './api.ts';
import { OWNED_KINDS, type KindInfo, type ObjectRef } from './kinds.ts';

/**
 * Every labelled object of the owned kinds (and of any further kinds given), whichever platform it is
 * for: the plan needs other platforms' objects to see a name clash. With `namespace` (a namespaced
 * operator) only the namespaced kinds, in that namespace: it neither may nor needs to look elsewhere.
 */
export async function listLabelled(api: KubeApi, extraKinds: readonly Pick<KindInfo, 'apiVersion' | 'kind'>[] = [], namespace?: string): Promise<KubeObject[]> {
  const kinds: Pick<KindInfo, 'apiVersion' | 'kind'>[] = [...OWNED_KINDS];
  for (const k of extraKinds) if (!kinds.some((o) => o.apiVersion === k.apiVersion && o.kind === k.kind)) kinds.push(k);
  const lists = await Promise.all(kinds.map(async (k) => {
    const served = await api.kindOf(k.apiVersion, k.kind);
    if (!served || (namespace !== undefined && !served.namespaced)) return [];
    try {
      return (await api.list(k.apiVersion, k.kind, { labelSelector: PLATFORM_LABEL, ...(namespace === undefined ? {} : { namespace }) })).items;
    } catch (err) {
      // Served in discovery a moment ago, gone now (CRD removed): nothing of that kind is left either.
      if (err instanceof KubeApiError && err.status === 404) return [];
      throw err;
    }
  }));
  return lists.flat();
}

export interface PruneOutcome {
  /** Deleted now (or already being deleted by the time we asked). */
  deleted: ObjectRef[];
  /** Refused for good (forbidden and the like); retryable errors are thrown instead. */
  failures: { ref: ObjectRef; error: KubeApiError }[];
}

/**
 * Deletes in the given order, each preconditioned on the uid seen when listed: an object deleted and
 * re-created by someone else meanwhile is a different object and is left alone (409).
 */
export async function pruneObjects(api: KubeApi, refs: readonly ObjectRef[], isRetryable: (err: unknown) => boolean): Promise<PruneOutcome> {
  const out: PruneOutcome = { deleted: [], failures: [] };
  for (const ref of refs) {
    try {
      if (await api.remove(ref)) out.deleted.push(ref);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 409 && err.causes.length === 0 && /precondition/i.test(err.message)) continue;
      if (isRetryable(err) || !(err instanceof KubeApiError)) throw err;
      out.failures.push({ ref, error: err });
    }
  }
  return out;
}
