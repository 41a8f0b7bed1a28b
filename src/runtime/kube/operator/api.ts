/**
 * The operator's view of the API server: objects as plain JSON in and out, over client-node's own HTTP
 * stack (its request context, the kubeconfig's authentication and TLS dispatcher). Not the typed
 * clients: their models drop every field they do not know when serializing, and an apply must send the
 * rendered object exactly, or the server would take the missing fields as removed.
 */
import { createConfiguration, HttpMethod, ServerConfiguration, type KubeConfig } from '@kubernetes/client-node';
import { MailfleetError } from '../../../errors.ts';
import type { KubeObject } from '../objects.ts';
import { knownKind, type KindInfo, type ObjectRef } from './kinds.ts';

const REQUEST_TIMEOUT_MS = 30_000;
const PAGE_SIZE = 500;
const USER_AGENT = 'mailfleet-operator';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** A refused or failed request: `status` is the HTTP code, 0 when no answer came. */
export class KubeApiError extends MailfleetError {
  readonly status: number;
  readonly reason: string;
  readonly causes: readonly StatusCause[];
  constructor(status: number, reason: string, message: string, causes: readonly StatusCause[] = [], cause?: unknown) {
    super('KUBE_FAILED', message, { cause });
    this.status = status;
    this.reason = reason;
    this.causes = causes;
  }
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface KubeApi {
  /** How a kind is served; undefined when the server does not serve it (e.g. its CRD is not installed). */
  kindOf(apiVersion: string, kind: string): Promise<KindInfo | undefined>;
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
  /** Every page; `namespace` undefined lists a namespaced kind across all namespaces. */
  list(apiVersion: string, kind: string, opts?: { namespace?: string; labelSelector?: string }): Promise<ListResult>;
  /** Creates the object (POST); 409 AlreadyExists when it exists. */
  create(obj: KubeObject, opts: { manager: string }): Promise<KubeObject>;
  /** Server-side apply (`application/apply-patch+yaml`, JSON being YAML). */
  apply(obj: KubeObject, opts: { manager: string; force: boolean; subresource?: 'status' }): Promise<KubeObject>;
  /** JSON merge patch; `metadata.resourceVersion` in the patch makes it conditional (409 when stale). */
  mergePatch(ref: ObjectRef, patch: object, opts: { manager: string }): Promise<KubeObject>;
  /** Deletes with background propagation, preconditioned on `ref.uid` when set; false when already gone. */
  remove(ref: ObjectRef): Promise<boolean>;
}

export function createKubeApi(kc: KubeConfig): KubeApi {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new MailfleetError('KUBE_FAILED', 'the kubeconfig has no current cluster');
  const config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}) });
  const discovered = new Map<string, KindInfo[]>();

  async function request(method: HttpMethod, path: string, opts: { query?: Record<string, string | undefined>; body?: unknown; contentType?: string } = {}): Promise<unknown> {
    const ctx = config.baseServer.makeRequestContext(path, method);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) ctx.setQueryParam(k, v);
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('User-Agent', USER_AGENT);
    if (opts.body !== undefined) {
      ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(opts.body));
    }
    ctx.setSignal(AbortSignal.timeout(REQUEST_TIMEOUT_MS));
    await kc.applySecurityAuthentication(ctx);
    let status: number;
    let text: string;
    try {
      const res = await config.httpApi.send(ctx).toPromise();
      status = res.httpStatusCode;
      text = await res.body.text();
    } catch (err) {
      throw new KubeApiError(0, 'Unreachable', `${method} ${path}: ${(err as Error).message}`, [], err);
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status >= 200 && status < 300) return body;
    const s = (body ?? {}) as { reason?: string; message?: string; details?: { causes?: StatusCause[] } };
    throw new KubeApiError(status, s.reason ?? `HTTP${status}`, `${method} ${path}: ${s.message ?? text.slice(0, 200)}`, s.details?.causes ?? []);
  }

  async function discover(apiVersion: string): Promise<KindInfo[]> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    try {
      const doc = (await request(HttpMethod.GET, path)) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
      return (doc.resources ?? []).filter((r) => !r.name.includes('/')).map((r) => ({ apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced }));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return [];
      throw err;
    }
  }

  async function kindOf(apiVersion: string, kind: string): Promise<KindInfo | undefined> {
    const known = knownKind(apiVersion, kind);
    if (known) return known;
    let served = discovered.get(apiVersion)?.find((k) => k.kind === kind);
    if (!served) {
      const kinds = await discover(apiVersion);
      discovered.set(apiVersion, kinds);
      served = kinds.find((k) => k.kind === kind);
    }
    return served;
  }

  async function pathOf(apiVersion: string, kind: string, namespace: string | undefined, name?: string, subresource?: string): Promise<string> {
    const info = await kindOf(apiVersion, kind);
    if (!info) throw new KubeApiError(404, 'NotFound', `${kind} ${apiVersion} is not served by this cluster`);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    if (info.namespaced && !namespace && name !== undefined) throw new KubeApiError(400, 'BadRequest', `${kind} ${name}: a namespace is required`);
    return `${base}${ns}/${info.plural}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
  }

  return {
    kindOf,
    async get(ref) {
      try {
        return (await request(HttpMethod.GET, await pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name))) as KubeObject;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    async list(apiVersion, kind, opts = {}) {
      const path = await pathOf(apiVersion, kind, opts.namespace);
      const items: KubeObject[] = [];
      let resourceVersion = '';
      let token: string | undefined;
      do {
        const page = (await request(HttpMethod.GET, path, { query: { labelSelector: opts.labelSelector, limit: String(PAGE_SIZE), continue: token } })) as {
          items?: KubeObject[];
          metadata?: { resourceVersion?: string; continue?: string };
        };
        // Built-in lists leave apiVersion and kind off their items.
        for (const item of page.items ?? []) items.push({ ...item, apiVersion, kind });
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token);
      return { items, resourceVersion };
    },
    async create(obj, opts) {
      const path = await pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace);
      return (await request(HttpMethod.POST, path, { query: { fieldManager: opts.manager }, body: obj })) as KubeObject;
    },
    async apply(obj, opts) {
      const path = await pathOf(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name, opts.subresource);
      const query = { fieldManager: opts.manager, force: opts.force ? 'true' : undefined };
      return (await request(HttpMethod.PATCH, path, { query, body: obj, contentType: 'application/apply-patch+yaml' })) as KubeObject;
    },
    async mergePatch(ref, patch, opts) {
      const path = await pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name);
      return (await request(HttpMethod.PATCH, path, { query: { fieldManager: opts.manager }, body: patch, contentType: 'application/merge-patch+json' })) as KubeObject;
    },
    async remove(ref) {
      const path = await pathOf(ref.apiVersion, ref.kind, ref.namespace, ref.name);
      const body = { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(ref.uid ? { preconditions: { uid: ref.uid } } : {}) };
      try {
        await request(HttpMethod.DELETE, path, { body });
        return true;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return false;
        throw err;
      }
    },
  };
}
