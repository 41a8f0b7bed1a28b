/**
 * One watch connection: a chunked HTTP response carrying one JSON event per line, replayed from
 * the store's history after the requested revision and then fed live. Selectors are applied the
 * way the watch cache applies them: an object that stops matching leaves as DELETED, one that
 * starts matching arrives as ADDED.
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject, JsonObject } from './json-value.ts';
import type { ObjectPredicate } from './selectors.ts';
import type { Change, ObjectStore } from './store.ts';
import { expired, type StatusError } from './status.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchOptions {
  store: ObjectStore;
  /** Storage key of the watched resource. */
  key: string;
  apiVersion: string;
  kind: string;
  /** Undefined: all namespaces (or a cluster-scoped resource). */
  namespace: string | undefined;
  matches: ObjectPredicate;
  /** Deliver changes after this revision; undefined sends the current objects as ADDED first. */
  since: number | undefined;
  /** `allowWatchBookmarks=true`. */
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  /** `timeoutSeconds`: end the response cleanly after this long. Undefined: never. */
  timeoutMs: number | undefined;
}

export interface WatchStream {
  readonly stalled: boolean;
  /** Stops writing: events from now on are lost for this connection, as on a half-open TCP connection. */
  stall(): void;
  /** Writes again, from the next event on; what happened during the stall stays lost. */
  resume(): void;
  /** Destroys the socket mid-stream. */
  drop(): void;
  /** Ends the response cleanly, as the real server does when a watch's timeout runs out. */
  end(): void;
  /** Sends a BOOKMARK at the store's current revision (when the client asked for bookmarks). */
  bookmark(): void;
}

function inNamespace(obj: KubeObject, namespace: string | undefined): boolean {
  return namespace === undefined || obj.metadata.namespace === namespace;
}

export function startWatch(res: ServerResponse, options: WatchOptions, onClose: () => void): WatchStream {
  const { store, key, apiVersion, kind, namespace, matches } = options;
  let stalled = false;
  let timedOut = false;
  let open = true;

  const visible = (obj: KubeObject | undefined) => obj !== undefined && inNamespace(obj, namespace) && matches(obj);
  const send = (type: WatchEventType, object: JsonObject) => {
    if (!open || stalled) return;
    res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const typed = (obj: KubeObject): JsonObject => ({ ...obj, apiVersion, kind });

  const deliver = (change: Change) => {
    if (change.key !== key) return;
    const now = visible(change.object);
    const before = visible(change.previous);
    if (change.type === 'ADDED' && now) send('ADDED', typed(change.object));
    else if (change.type === 'DELETED' && before) send('DELETED', typed(change.object));
    else if (change.type === 'MODIFIED') {
      if (now && before) send('MODIFIED', typed(change.object));
      else if (now) send('ADDED', typed(change.object));
      else if (before) send('DELETED', typed(change.object));
    }
  };

  const end = () => {
    if (!open) return;
    if (stalled) {
      timedOut = true;
      return;
    }
    open = false;
    res.end();
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();

  let replay: Change[] = [];
  try {
    if (options.since === undefined) {
      for (const obj of store.list(key, namespace)) if (matches(obj)) send('ADDED', typed(obj));
    } else {
      replay = store.changesSince(options.since);
    }
  } catch (err) {
    send('ERROR', (err as StatusError).code === 410 ? (err as StatusError).toStatus() : expired(String(err)).toStatus());
    open = false;
    res.end();
    onClose();
    return { stalled: false, stall() {}, resume() {}, drop() {}, end() {}, bookmark() {} };
  }
  for (const change of replay) deliver(change);
  const unsubscribe = store.subscribe(deliver);

  const stream: WatchStream = {
    get stalled() {
      return stalled;
    },
    stall() {
      stalled = true;
    },
    resume() {
      stalled = false;
      if (timedOut) end();
    },
    drop() {
      open = false;
      res.socket?.destroy();
    },
    end,
    bookmark() {
      if (options.bookmarks) send('BOOKMARK', { kind, apiVersion, metadata: { resourceVersion: String(store.revision) } });
    },
  };

  const timers: NodeJS.Timeout[] = [];
  if (options.timeoutMs !== undefined) timers.push(setTimeout(end, options.timeoutMs).unref());
  if (options.bookmarks) timers.push(setInterval(() => stream.bookmark(), options.bookmarkIntervalMs).unref());
  res.on('close', () => {
    open = false;
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    onClose();
  });
  return stream;
}
