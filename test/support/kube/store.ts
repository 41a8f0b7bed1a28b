/**
 * In-memory object storage with etcd-like revisions: one global counter, a bounded history of
 * changes (for watch replay and consistent paging) and compaction. Objects are copied in and out,
 * so callers can never alter stored state by accident.
 */
import { cloneJson, metadataOf, stringField, type KubeObject } from './json-value.ts';
import { expired } from './status.ts';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Change {
  readonly revision: number;
  readonly type: ChangeType;
  /** Storage key of the resource (`apps/deployments`). */
  readonly key: string;
  /** The object after the change; for DELETED, its last state stamped with the deletion revision. */
  readonly object: KubeObject;
  /** The object before the change (absent for ADDED). */
  readonly previous: KubeObject | undefined;
}

export interface ObjectStore {
  /** The newest revision. */
  readonly revision: number;
  /** The oldest revision from which history can still be replayed. */
  readonly compactedRevision: number;
  get(key: string, namespace: string, name: string): KubeObject | undefined;
  /** Objects of a resource, sorted by namespace then name; `namespace` undefined means all. */
  list(key: string, namespace?: string): KubeObject[];
  /** The objects as they were at `revision`; 410 Expired when that is older than the history. */
  listAt(key: string, revision: number, namespace?: string): KubeObject[];
  /** Changes after `revision`, oldest first; 410 Expired when history no longer reaches back that far. */
  changesSince(revision: number): Change[];
  /** Creates or replaces; stamps `metadata.resourceVersion` with the new revision. */
  write(key: string, obj: KubeObject): Change;
  /** Removes; undefined when absent. */
  erase(key: string, namespace: string, name: string): Change | undefined;
  /** Forgets every change so far: a watch or continue token from before now gets 410. */
  compact(): void;
  subscribe(listener: (change: Change) => void): () => void;
  /** Storage keys that currently hold objects. */
  keys(): string[];
}

function objectKey(obj: KubeObject): string {
  const meta = metadataOf(obj);
  return `${stringField(meta, 'namespace') ?? ''}/${stringField(meta, 'name') ?? ''}`;
}

function inNamespace(obj: KubeObject, namespace: string | undefined): boolean {
  return namespace === undefined || (stringField(metadataOf(obj), 'namespace') ?? '') === namespace;
}

export function createObjectStore(options: { historyLimit: number }): ObjectStore {
  const objects = new Map<string, Map<string, KubeObject>>();
  const history: Change[] = [];
  const listeners = new Set<(change: Change) => void>();
  let revision = 1;
  let compactedRevision = 1;

  const bucket = (key: string) => {
    let b = objects.get(key);
    if (!b) objects.set(key, (b = new Map()));
    return b;
  };

  const record = (change: Change) => {
    history.push(change);
    while (history.length > options.historyLimit) compactedRevision = history.shift()!.revision;
    for (const listener of [...listeners]) listener(change);
    return change;
  };

  const sorted = (items: Iterable<[string, KubeObject]>) =>
    [...items].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, obj]) => cloneJson(obj));

  const requireHistory = (from: number, what: string) => {
    if (from < compactedRevision) throw expired(`${what}: too old resource version: ${from} (${compactedRevision})`);
  };

  return {
    get revision() {
      return revision;
    },
    get compactedRevision() {
      return compactedRevision;
    },
    get(key, namespace, name) {
      const obj = objects.get(key)?.get(`${namespace}/${name}`);
      return obj && cloneJson(obj);
    },
    list(key, namespace) {
      return sorted([...(objects.get(key) ?? new Map<string, KubeObject>())].filter(([, o]) => inNamespace(o, namespace)));
    },
    listAt(key, at, namespace) {
      requireHistory(at, 'list');
      const state = new Map(objects.get(key) ?? []);
      for (let i = history.length - 1; i >= 0 && history[i]!.revision > at; i--) {
        const change = history[i]!;
        if (change.key !== key) continue;
        if (change.previous) state.set(objectKey(change.previous), change.previous);
        else state.delete(objectKey(change.object));
      }
      return sorted([...state].filter(([, o]) => inNamespace(o, namespace)));
    },
    changesSince(from) {
      requireHistory(from, 'watch');
      return history.filter((c) => c.revision > from);
    },
    write(key, obj) {
      const stored = cloneJson(obj);
      const k = objectKey(stored);
      const previous = bucket(key).get(k);
      revision++;
      metadataOf(stored).resourceVersion = String(revision);
      bucket(key).set(k, stored);
      return record({ revision, type: previous ? 'MODIFIED' : 'ADDED', key, object: cloneJson(stored), previous });
    },
    erase(key, namespace, name) {
      const b = objects.get(key);
      const previous = b?.get(`${namespace}/${name}`);
      if (!b || !previous) return undefined;
      b.delete(`${namespace}/${name}`);
      revision++;
      const object = cloneJson(previous);
      metadataOf(object).resourceVersion = String(revision);
      return record({ revision, type: 'DELETED', key, object, previous });
    },
    compact() {
      history.length = 0;
      compactedRevision = revision;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    keys: () => [...objects].filter(([, b]) => b.size > 0).map(([k]) => k),
  };
}
