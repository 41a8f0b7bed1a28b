/**
 * The little that kube-controller-manager and apiextensions would do in a real cluster, run
 * asynchronously after the change that triggers it (as there):
 * - a CustomResourceDefinition registers its resource at once and gets `Established` shortly after;
 *   deleting it unregisters the resource and removes its objects;
 * - deleting a namespace removes everything in it (at once, without a Terminating phase);
 * - deleting an owner removes dependents whose every `ownerReferences` owner is gone (background
 *   propagation only; the sweep runs after deletions, not after creations).
 * Objects with finalizers are only marked for deletion, as by a real DELETE.
 */
import { setImmediate } from 'node:timers';
import { isJsonObject, kubeTimestamp, cloneJson, type JsonObject, type KubeObject } from './json-value.ts';
import { hasFinalizers, isTerminating, markForDeletion, objectName, objectNamespace } from './object-meta.ts';
import { resourceTypesOfCrd, storageKey, type Registry } from './registry.ts';
import type { Change, ObjectStore } from './store.ts';

const CRD_KEY = 'apiextensions.k8s.io/customresourcedefinitions';
const NAMESPACE_KEY = '/namespaces';

function isEstablished(crd: KubeObject): boolean {
  const conditions = isJsonObject(crd.status) && Array.isArray(crd.status.conditions) ? crd.status.conditions : [];
  return conditions.some((c) => isJsonObject(c) && c.type === 'Established' && c.status === 'True');
}

function establishedStatus(crd: KubeObject, now: Date): JsonObject {
  const spec = isJsonObject(crd.spec) ? crd.spec : {};
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isJsonObject) : [];
  const at = kubeTimestamp(now);
  return {
    acceptedNames: isJsonObject(spec.names) ? cloneJson(spec.names) : {},
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: at, reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: at, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    storedVersions: versions.filter((v) => v.storage === true).map((v) => String(v.name)),
  };
}

export function startClusterControllers(store: ObjectStore, registry: Registry, now: () => Date): () => void {
  const pending: Change[] = [];
  let timer: NodeJS.Immediate | undefined;

  const remove = (key: string, obj: KubeObject) => {
    if (!hasFinalizers(obj)) store.erase(key, objectNamespace(obj), objectName(obj));
    else if (!isTerminating(obj)) store.write(key, markForDeletion(obj, now()));
  };

  const sweepOrphans = () => {
    const live = new Set<string>();
    for (const key of store.keys()) for (const obj of store.list(key)) live.add(String(obj.metadata.uid));
    for (const key of store.keys()) {
      for (const obj of store.list(key)) {
        const owners = Array.isArray(obj.metadata.ownerReferences) ? obj.metadata.ownerReferences.filter(isJsonObject) : [];
        if (owners.length > 0 && owners.every((o) => !live.has(String(o.uid)))) remove(key, obj);
      }
    }
  };

  const run = () => {
    timer = undefined;
    let deleted = false;
    for (const change of pending.splice(0)) {
      if (change.key === CRD_KEY && change.type !== 'DELETED') {
        const current = store.get(CRD_KEY, '', objectName(change.object));
        if (current && !isEstablished(current) && !isTerminating(current)) store.write(CRD_KEY, { ...current, status: establishedStatus(current, now()) });
        continue;
      }
      if (change.type !== 'DELETED') continue;
      deleted = true;
      if (change.key === CRD_KEY) {
        for (const t of resourceTypesOfCrd(change.object).slice(0, 1)) for (const obj of store.list(storageKey(t))) remove(storageKey(t), obj);
      }
      if (change.key === NAMESPACE_KEY) {
        for (const key of store.keys()) {
          if (registry.byStorageKey(key)?.namespaced) for (const obj of store.list(key, objectName(change.object))) remove(key, obj);
        }
      }
    }
    if (deleted) sweepOrphans();
  };

  const unsubscribe = store.subscribe((change) => {
    if (change.key === CRD_KEY) {
      const types = resourceTypesOfCrd(change.object);
      if (change.type === 'DELETED') {
        for (const t of types.slice(0, 1)) registry.unregister(t.group, t.resource);
      } else {
        for (const t of types) registry.register(t);
      }
    }
    if (change.type === 'DELETED' || change.key === CRD_KEY) {
      pending.push(change);
      timer ??= setImmediate(run);
    }
  });

  return () => {
    unsubscribe();
    if (timer) clearImmediate(timer);
  };
}
