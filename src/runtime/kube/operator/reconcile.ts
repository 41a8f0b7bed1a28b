/**
 * One reconcile of one MailPlatform, level-based: read the resource, validate its spec, render, list
 * what the cluster holds with the platform label, plan, apply, prune, start or adjust its backend sync,
 * report status. Retryable API errors are thrown for the loop to back off; everything else ends in a
 * result and a status.
 */
import { errorMessage, isMailfleetError } from '../../../errors.ts';
import type { Logger } from '../../../log.ts';
import { validateSpec, type MailPlatform } from '../../../spec/index.ts';
import type { DirectorEndpoint } from '../../../backends/index.ts';
import type { KubeObject } from '../objects.ts';
import { renderPlatform } from '../render.ts';
import type { KubeApi } from './api.ts';
import { applyObjects, describeApplyConflicts, FORCE_ANNOTATION, isRetryable } from './apply.ts';
import { backendSyncSettings, readApiKey, type BackendSyncs } from './backend-sync.ts';
import { describeRef, identityOf, MAILPLATFORM_KIND, refOf, serverMeta, type ObjectRef } from './kinds.ts';
import type { OperatorMetrics } from './metrics.ts';
import { describeConflicts, FIELD_MANAGER, planDeletion, planReconcile } from './plan.ts';
import { listLabelled, pruneObjects } from './prune.ts';
import { NAMESPACED_SCOPE, scopedSpec, scopeProblems, splitByScope, type OperatorScope } from './scope.ts';
import { ensurePlatformSecret, platformSecretPlan } from './secret.ts';
import { nextStatus, notReadyWorkloads, writeStatus, type Observation } from './status.ts';

/** Held on every MailPlatform the operator has seen, so that deleting one first deletes what it owns. */
export const FINALIZER = 'mailfleet.io/operator';
/** While deleting, how soon to look again at objects that are still going. */
export const DELETE_POLL_MS = 1_000;

export type ReconcileResult = 'applied' | 'noop' | 'invalid' | 'conflict' | 'failed' | 'deleting' | 'deleted' | 'gone';

export interface ReconcileOutcome {
  result: ReconcileResult;
  /** Look again this soon even without an event. */
  requeueAfterMs?: number;
}

export interface ReconcileDeps {
  api: KubeApi;
  log: Logger;
  metrics: OperatorMetrics;
  syncs: BackendSyncs;
  /** What MailPlatform authors may ask for; default NAMESPACED_SCOPE. */
  scope?: OperatorScope;
  /** The operator's own namespace, for the proxies' NetworkPolicy (its backend sync reaches doveadm from there). */
  operatorNamespace?: string;
  /** Where the backend sync reaches the directors; default: every proxy by its DNS name. */
  directorEndpoints?: (doc: MailPlatform) => DirectorEndpoint[];
  now?: () => Date;
}

export function platformRef(key: string): ObjectRef {
  const [namespace = '', name = ''] = key.split('/');
  return { apiVersion: MAILPLATFORM_KIND.apiVersion, kind: MAILPLATFORM_KIND.kind, namespace, name };
}

export function keyOf(obj: Pick<KubeObject, 'metadata'>): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

const problemsOf = (refs: readonly { ref: ObjectRef; error: Error }[]) => refs.map((f) => `${describeRef(f.ref)}: ${f.error.message}`).join('; ');

async function setFinalizers(deps: ReconcileDeps, cr: KubeObject, finalizers: string[]): Promise<KubeObject> {
  const { resourceVersion } = serverMeta(cr);
  return deps.api.mergePatch(refOf(cr), { metadata: { finalizers: finalizers.length > 0 ? finalizers : null, resourceVersion } }, { manager: FIELD_MANAGER });
}

async function report(deps: ReconcileDeps, cr: KubeObject, o: Observation, counts: { objects?: number; prunedNow?: number } = {}): Promise<void> {
  await writeStatus(deps.api, cr, nextStatus(cr, o, counts, (deps.now ?? (() => new Date()))()));
}

/** Where this platform's objects may be: its own namespace, or (cross-namespace) anywhere. */
function listScope(deps: ReconcileDeps, cr: KubeObject): string | undefined {
  return (deps.scope ?? NAMESPACED_SCOPE).allowCrossNamespace ? undefined : cr.metadata.namespace;
}

async function finalize(deps: ReconcileDeps, key: string, cr: KubeObject): Promise<ReconcileOutcome> {
  await deps.syncs.ensure(key, undefined);
  const finalizers = serverMeta(cr).finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return { result: 'gone' };
  const { prune, retained } = planDeletion({ owner: key, platform: cr.metadata.name, actual: await listLabelled(deps.api, [], listScope(deps, cr)) });
  if (prune.length > 0) {
    await report(deps, cr, { kind: 'deleting', remaining: prune.length });
    const outcome = await pruneObjects(deps.api, prune, isRetryable);
    deps.metrics.pruned.inc({ platform: key }, outcome.deleted.length);
    if (outcome.failures.length > 0) {
      await report(deps, cr, { kind: 'degraded', reason: 'PruneFailed', message: problemsOf(outcome.failures) });
      return { result: 'failed' };
    }
    // Deleted objects with finalizers of their own linger a while; the finalizer goes once they are gone.
    return { result: 'deleting', requeueAfterMs: DELETE_POLL_MS };
  }
  await setFinalizers(deps, cr, finalizers.filter((f) => f !== FINALIZER));
  deps.metrics.objects.remove({ platform: key });
  deps.log.info({ platform: key, retained: retained.map(describeRef) }, 'platform deleted');
  return { result: 'deleted' };
}

export async function reconcilePlatform(deps: ReconcileDeps, key: string): Promise<ReconcileOutcome> {
  const { api, log, metrics, syncs } = deps;
  let cr = await api.get(platformRef(key));
  if (!cr) {
    await syncs.ensure(key, undefined);
    metrics.objects.remove({ platform: key });
    return { result: 'gone' };
  }
  if (serverMeta(cr).deletionTimestamp) return finalize(deps, key, cr);
  const finalizers = serverMeta(cr).finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) cr = await setFinalizers(deps, cr, [...finalizers, FINALIZER]);

  const scope = deps.scope ?? NAMESPACED_SCOPE;
  const crNamespace = cr.metadata.namespace ?? '';
  let doc: MailPlatform;
  try {
    const spec = scopedSpec(cr.spec, crNamespace, scope);
    doc = validateSpec({ apiVersion: MAILPLATFORM_KIND.apiVersion, kind: MAILPLATFORM_KIND.kind, metadata: { name: cr.metadata.name }, spec }, key);
  } catch (err) {
    if (!isMailfleetError(err, 'SPEC_INVALID')) throw err;
    log.warn({ platform: key, problems: err.details }, 'spec invalid');
    await report(deps, cr, { kind: 'degraded', reason: 'SpecInvalid', message: err.details.join('; ') });
    return { result: 'invalid' };
  }
  const refused = scopeProblems(cr.spec, crNamespace, doc, scope);
  if (refused.length > 0) {
    log.warn({ platform: key, problems: refused }, 'spec not allowed');
    await report(deps, cr, { kind: 'degraded', reason: 'NotAllowed', message: refused.join('; ') });
    return { result: 'invalid' };
  }

  // A Secret the spec does not fill is kept outside the render: created here when absent, never pruned.
  const secret = platformSecretPlan(doc);
  let rendered: KubeObject[];
  try {
    rendered = renderPlatform(secret.doc, deps.operatorNamespace ? { operatorNamespace: deps.operatorNamespace } : {});
  } catch (err) {
    // What only the renderer can check (a certificate with neither an issuer nor a Secret): the spec's fault, not the API's.
    if (!isMailfleetError(err, 'SPEC_INVALID')) throw err;
    log.warn({ platform: key, problems: err.details }, 'spec invalid');
    await report(deps, cr, { kind: 'degraded', reason: 'SpecInvalid', message: err.details.join('; ') });
    return { result: 'invalid' };
  }
  // A namespaced operator applies what lives in the platform's namespace; the rest is the installer's.
  const { apply: desired, leftToInstaller } = splitByScope(rendered, doc.spec.kubernetes.namespace, scope);
  const extraKinds = desired.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind }));
  const actual = await listLabelled(api, extraKinds, listScope(deps, cr));
  const plan = planReconcile({ owner: key, platform: doc.metadata.name, desired, actual, ...(secret.external ? { retain: [secret.external] } : {}) });
  if (plan.conflicts.length > 0) {
    await report(deps, cr, { kind: 'degraded', reason: 'OwnerConflict', message: describeConflicts(plan.conflicts) });
    return { result: 'conflict' };
  }

  const versions = new Map(actual.map((o) => [identityOf(refOf(o)), serverMeta(o).resourceVersion ?? '']));
  const force = cr.metadata.annotations?.[FORCE_ANNOTATION] === 'true';
  const applied = await applyObjects(api, plan.apply, versions, force, (o) => identityOf(refOf(o)));
  if (applied.conflicts.length > 0) {
    const message = describeApplyConflicts(applied.conflicts);
    log.warn({ platform: key, conflicts: message }, 'apply conflict');
    await report(deps, cr, { kind: 'degraded', reason: 'ApplyConflict', message });
    return { result: 'conflict' };
  }
  if (applied.failures.length > 0) {
    log.warn({ platform: key, failures: problemsOf(applied.failures) }, 'apply failed');
    await report(deps, cr, { kind: 'degraded', reason: 'ApplyFailed', message: problemsOf(applied.failures) });
    return { result: 'failed' };
  }

  if (secret.external) {
    try {
      await ensurePlatformSecret(api, doc, secret.external, key, log);
    } catch (err) {
      if (isRetryable(err)) throw err;
      await report(deps, cr, { kind: 'degraded', reason: 'ApplyFailed', message: `${describeRef(secret.external)}: ${errorMessage(err)}` });
      return { result: 'failed' };
    }
  }

  // Prune only after everything rendered is in place: what replaces an object exists before it goes.
  const pruned = await pruneObjects(api, plan.prune, isRetryable);
  metrics.pruned.inc({ platform: key }, pruned.deleted.length);
  if (pruned.deleted.length > 0) log.info({ platform: key, pruned: pruned.deleted.map(describeRef) }, 'pruned');
  if (pruned.failures.length > 0) {
    await report(deps, cr, { kind: 'degraded', reason: 'PruneFailed', message: problemsOf(pruned.failures) }, { objects: plan.apply.length, prunedNow: pruned.deleted.length });
    return { result: 'failed' };
  }

  const apiKey = await readApiKey(api, doc);
  if (apiKey === undefined) log.warn({ platform: key }, 'no doveadm API key in the platform Secret; backend sync waits');
  await syncs.ensure(key, apiKey === undefined ? undefined : backendSyncSettings(doc, apiKey, deps.directorEndpoints));

  const readiness = notReadyWorkloads(applied.applied);
  await report(deps, cr, { kind: 'applied', ...readiness, leftToInstaller }, { objects: plan.apply.length, prunedNow: pruned.deleted.length });
  metrics.objects.set({ platform: key }, plan.apply.length);
  const changed = applied.changed + pruned.deleted.length > 0;
  if (changed) log.info({ platform: key, changed: applied.changed, pruned: pruned.deleted.length, notReady: readiness.notReady.length }, 'platform reconciled');
  return { result: changed ? 'applied' : 'noop' };
}

/** After repeated retryable failures, say so on the MailPlatform (best effort: the API may be what fails). */
export async function reportApiError(deps: ReconcileDeps, key: string, err: unknown): Promise<void> {
  try {
    const cr = await deps.api.get(platformRef(key));
    if (cr && !serverMeta(cr).deletionTimestamp) await report(deps, cr, { kind: 'degraded', reason: 'ApiError', message: errorMessage(err) });
  } catch {
    // The next successful reconcile reports the truth.
  }
}
