/**
 * An in-process Kubernetes API server for integration tests: plain HTTP on 127.0.0.1, the real
 * REST and watch protocol, objects in memory, generic over resources. Driven by the real
 * `@kubernetes/client-node` through `kubeConfigFor(server)`.
 *
 * Fidelity notes (deliberate simplifications) live next to the code they concern:
 * patch.ts (strategic merge = merge patch), managed-fields.ts (lists are atomic for SSA),
 * cluster-controllers.ts (namespace and owner garbage collection).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { startClusterControllers } from './cluster-controllers.ts';
import { cloneJson, type JsonObject, type JsonValue, type KubeObject } from './json-value.ts';
import { recordUpdate } from './managed-fields.ts';
import { carryOver, checkIdentity, objectName, stampNew } from './object-meta.ts';
import { apiVersionOf, createRegistry, DEFAULT_RESOURCES, storageKey, type ResourceType } from './registry.ts';
import { resolveRoute } from './routes.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { badRequest, methodNotAllowed, StatusError, statusForCode } from './status.ts';
import { createObjectStore } from './store.ts';
import { createObject, deleteCollection, deleteObject, getObject, listObjects, PATCH_TYPES, patchObject, present, updateObject, type ObjectTarget, type Reply, type WriteOptions } from './verbs.ts';
import { startWatch, type WatchStream } from './watch.ts';

export type { ResourceType } from './registry.ts';
export type { KubeObject } from './json-value.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The API verb; `''` for discovery and other non-resource paths. */
  verb: Verb | '';
  /** Plural resource name, `''` for non-resource paths. */
  resource: string;
  subresource?: string;
  namespace?: string;
}

export interface KubeApiServerOptions {
  /** Bearer token clients must send. Default `mailfleet-test-token`. */
  token?: string;
  /** Changes kept for watch replay and paging before the oldest is compacted away. Default 1000. */
  historyLimit?: number;
  /** How often bookmarks go to watches that asked for them. Default 60 000 ms (the real server: about a minute). */
  bookmarkIntervalMs?: number;
  /** Served resources. Default DEFAULT_RESOURCES; `register` adds more later. */
  resources?: readonly ResourceType[];
}

export interface KubeApiServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly token: string;
  /** Every request received, in order, including refused and failed ones. */
  readonly requests: RecordedRequest[];
  /** Watch connections open now (stalled ones included). */
  readonly openWatches: number;
  /** The newest resourceVersion, as a string. */
  readonly resourceVersion: string;
  register(resource: ResourceType): void;
  /** Creates or replaces an object without HTTP (watchers see the change); `fieldManager` records ownership. */
  put(obj: JsonObject, options?: { fieldManager?: string }): KubeObject;
  /** Deletes at once, ignoring finalizers; false when absent. */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Forgets history: a watch or continue token from before now gets 410 Expired. */
  compactHistory(): void;
  /** Destroys every open watch connection mid-stream. */
  dropWatches(): void;
  /** Ends every open watch response cleanly (a stalled one when it resumes), like a server-side watch timeout. */
  endWatches(): void;
  /** Open watch connections stop receiving anything; what happens meanwhile is lost to them for good. */
  stallWatches(): void;
  /** Stalled connections receive again, from the next change on. */
  resumeWatches(): void;
  /** A BOOKMARK now on every watch that asked for bookmarks. */
  sendBookmarks(): void;
  /** The next `times` requests with this verb on this resource (`'*'` for any) fail with `statusCode`. */
  failNext(verb: Verb | '*', resource: string, statusCode: number, times?: number): void;
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 3 * 1024 * 1024;
const DEFAULT_FIELD_MANAGER = 'unknown';

function verbOf(method: string, name: string | undefined, watch: boolean): Verb {
  switch (method) {
    case 'GET':
      return name !== undefined ? 'get' : watch ? 'watch' : 'list';
    case 'POST':
      if (name === undefined) return 'create';
      break;
    case 'PUT':
      if (name !== undefined) return 'update';
      break;
    case 'PATCH':
      if (name !== undefined) return 'patch';
      break;
    case 'DELETE':
      return name !== undefined ? 'delete' : 'deletecollection';
  }
  throw methodNotAllowed();
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new StatusError(413, 'RequestEntityTooLarge', 'the request body is too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(raw: string, contentType: string): JsonValue | undefined {
  if (raw.trim() === '') return undefined;
  try {
    return (/yaml/.test(contentType) ? parseYaml(raw) : JSON.parse(raw)) as JsonValue;
  } catch (err) {
    throw badRequest(`error decoding request body: ${(err as Error).message}`);
  }
}

function sendJson(res: ServerResponse, code: number, body: JsonObject, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const token = options.token ?? 'mailfleet-test-token';
  const registry = createRegistry(options.resources ?? DEFAULT_RESOURCES);
  const store = createObjectStore({ historyLimit: options.historyLimit ?? 1000 });
  const now = () => new Date();
  const stopControllers = startClusterControllers(store, registry, now);
  const watches = new Set<WatchStream>();
  const sockets = new Set<Socket>();
  const faults: { verb: Verb | '*'; resource: string; code: number; remaining: number }[] = [];
  const requests: RecordedRequest[] = [];
  const ctx = { store, now };
  let serverAddress = '127.0.0.1';

  const takeFault = (verb: Verb, resource: string) => {
    const fault = faults.find((f) => f.remaining > 0 && (f.verb === '*' || f.verb === verb) && (f.resource === '*' || f.resource === resource));
    if (!fault) return undefined;
    fault.remaining--;
    return statusForCode(fault.code, `injected failure for ${verb} ${resource}`);
  };

  const serveWatch = (res: ServerResponse, at: ObjectTarget, query: URLSearchParams, fault: StatusError | undefined) => {
    if (fault) {
      // An injected 410 arrives the way the real server sends one: an ERROR event in a 200 stream.
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(`${JSON.stringify({ type: 'ERROR', object: fault.toStatus() })}\n`);
      return;
    }
    const rvParam = query.get('resourceVersion') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw badRequest(`invalid resource version: ${rvParam}`);
    const matches = [parseLabelSelector(query.get('labelSelector')), parseFieldSelector(query.get('fieldSelector'), at.rt.selectableFields)];
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '');
    const stream = startWatch(
      res,
      {
        store,
        key: storageKey(at.rt),
        apiVersion: apiVersionOf(at.rt),
        kind: at.rt.kind,
        namespace: at.namespace,
        matches: (o) => matches.every((m) => m(o)),
        since: rvParam === '' || rvParam === '0' ? undefined : Number(rvParam),
        bookmarks: query.get('allowWatchBookmarks') === 'true',
        bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
        timeoutMs: timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined,
      },
      () => watches.delete(stream),
    );
    watches.add(stream);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RecordedRequest, url: URL) => {
    if (req.headers.authorization !== `Bearer ${token}`) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
    const route = resolveRoute(registry, url.pathname, serverAddress);
    if (route.type === 'text') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(route.body);
      return;
    }
    if (route.type === 'document') {
      sendJson(res, 200, route.body);
      return;
    }
    const query = url.searchParams;
    const watch = route.legacyWatch || query.get('watch') === 'true' || query.get('watch') === '1';
    const verb = verbOf(req.method ?? 'GET', route.name, watch);
    Object.assign(record, { verb, resource: route.rt.resource }, route.subresource ? { subresource: route.subresource } : {}, route.namespace ? { namespace: route.namespace } : {});
    if (verb === 'create' && route.rt.namespaced && route.namespace === undefined) throw methodNotAllowed();
    if (route.subresource && !['get', 'update', 'patch'].includes(verb)) throw methodNotAllowed();
    const fault = takeFault(verb, route.subresource ? `${route.rt.resource}/status` : route.rt.resource) ?? takeFault(verb, '*');
    if (fault && !(verb === 'watch' && fault.code === 410)) throw fault;
    const at: ObjectTarget = { rt: route.rt, namespace: route.namespace, scope: route.subresource ? 'status' : 'main', ...(route.name !== undefined ? { name: route.name } : {}) };
    if (verb === 'watch') return serveWatch(res, at, query, fault);

    const dryRunParam = query.get('dryRun');
    if (dryRunParam !== null && dryRunParam !== 'All') throw badRequest(`Invalid dryRun value: ${dryRunParam}; supported values: "All"`);
    const forceParam = query.get('force');
    const write: WriteOptions = {
      dryRun: dryRunParam === 'All',
      manager: query.get('fieldManager') ?? (verb === 'patch' && /apply-patch/.test(req.headers['content-type'] ?? '') ? '' : managerFrom(req)),
      force: forceParam === 'true',
    };
    const contentType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    const raw = await readBody(req);
    let reply: Reply;
    switch (verb) {
      case 'get':
        reply = getObject(ctx, at);
        break;
      case 'list':
        reply = listObjects(ctx, at, query);
        break;
      case 'create':
        reply = createObject(ctx, at, parseBody(raw, contentType), write);
        break;
      case 'update':
        reply = updateObject(ctx, at, parseBody(raw, contentType), write);
        break;
      case 'patch':
        if (!(Object.values(PATCH_TYPES) as string[]).includes(contentType)) {
          throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_TYPES).join(', ')}`);
        }
        reply = patchObject(ctx, at, contentType, raw, write);
        break;
      case 'delete':
        reply = deleteObject(ctx, at, parseBody(raw, contentType), write.dryRun);
        break;
      case 'deletecollection':
        reply = deleteCollection(ctx, at, query, write.dryRun);
        break;
    }
    sendJson(res, reply.code, reply.body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), verb: '', resource: '' };
    requests.push(record);
    handle(req, res, record, url).catch((err: unknown) => {
      const status = err instanceof StatusError ? err : new StatusError(500, 'InternalError', `Internal error occurred: ${String(err)}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const retryAfter = status.details?.retryAfterSeconds;
      sendJson(res, status.code, status.toStatus(), retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `127.0.0.1:${port}`;

  const typeOf = (apiVersion: string, kind: string) => {
    const t = registry.byKind(apiVersion, kind);
    if (!t) throw new Error(`no resource registered for ${apiVersion} ${kind}`);
    return t;
  };
  const nsOf = (t: ResourceType, namespace: string | undefined) => (t.namespaced ? (namespace ?? 'default') : '');

  return {
    url: `http://${serverAddress}`,
    token,
    requests,
    get openWatches() {
      return watches.size;
    },
    get resourceVersion() {
      return String(store.revision);
    },
    register: (t) => registry.register(t),
    put(input, putOptions = {}) {
      const t = typeOf(String(input.apiVersion), String(input.kind));
      const obj = checkIdentity(t, cloneJson(input), undefined, undefined);
      if (t.namespaced) obj.metadata.namespace = nsOf(t, typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : undefined);
      const before = store.get(storageKey(t), nsOf(t, obj.metadata.namespace as string | undefined), objectName(obj));
      // Direct writes set `.status` too: tests seed what controllers would report.
      const asPlain = { ...t, statusSubresource: false };
      const next = before ? carryOver(asPlain, before, obj, 'main') : stampNew(asPlain, obj, now());
      if (putOptions.fieldManager) recordUpdate(before, next, { t, scope: 'main', manager: putOptions.fieldManager, apiVersion: apiVersionOf(t), now: now() });
      return present(t, store.write(storageKey(t), next).object) as KubeObject;
    },
    remove(apiVersion, kind, namespace, name) {
      const t = typeOf(apiVersion, kind);
      return store.erase(storageKey(t), nsOf(t, namespace), name) !== undefined;
    },
    get(apiVersion, kind, namespace, name) {
      const t = typeOf(apiVersion, kind);
      const obj = store.get(storageKey(t), nsOf(t, namespace), name);
      return obj && (present(t, obj) as KubeObject);
    },
    list(apiVersion, kind, namespace) {
      const t = typeOf(apiVersion, kind);
      return store.list(storageKey(t), t.namespaced ? namespace : undefined).map((o) => present(t, o) as KubeObject);
    },
    compactHistory: () => store.compact(),
    dropWatches: () => [...watches].forEach((w) => w.drop()),
    endWatches: () => [...watches].forEach((w) => w.end()),
    stallWatches: () => [...watches].forEach((w) => w.stall()),
    resumeWatches: () => [...watches].forEach((w) => w.resume()),
    sendBookmarks: () => [...watches].forEach((w) => w.bookmark()),
    failNext(verb, resource, statusCode, times = 1) {
      faults.push({ verb, resource, code: statusCode, remaining: times });
    },
    close() {
      stopControllers();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
  };
}

/** The real server names an unnamed writer after the User-Agent's product token. */
function managerFrom(req: IncomingMessage): string {
  const agent = req.headers['user-agent'] ?? '';
  return agent.split('/')[0]?.trim() || DEFAULT_FIELD_MANAGER;
}

/** A KubeConfig for the real client: plain HTTP to the server, bearer token, one current context. */
export function kubeConfigFor(server: Pick<KubeApiServer, 'url' | 'token'>, namespace = 'default'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'mailfleet-test', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'mailfleet-test', token: server.token }],
    contexts: [{ name: 'mailfleet-test', cluster: 'mailfleet-test', user: 'mailfleet-test', namespace }],
    currentContext: 'mailfleet-test',
  });
  return kc;
}
