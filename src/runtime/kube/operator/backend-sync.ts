/**
 * The backend-sync controller of each platform, run by the operator: EndpointSlices of the platform's
 * `mailbox` Service → the Dovecot director over doveadm HTTP, wired as `mailfleet controller --source
 * kube` wires it. It holds the same Lease (LEASE_NAME in the platform's namespace) as the rendered
 * controller Deployment, so the two never write to the director at once.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { createBackendMetrics, createBackendSync, directorsByName, doveadmDirectors, type DirectorEndpoint } from '../../../backends/index.ts';
import { createEndpointSliceSource, leaseElection } from '../../../backends/kube.ts';
import { SECRET_KEYS } from '../../../config/index.ts';
import { errorMessage } from '../../../errors.ts';
import type { Logger } from '../../../log.ts';
import type { MailPlatform } from '../../../spec/index.ts';
import { secretName } from '../configs.ts';
import { renderContext } from '../context.ts';
import { LEASE_NAME } from '../controller.ts';
import type { KubeApi } from './api.ts';

export const MAILBOX_SERVICE = 'mailbox';

export interface BackendSyncSettings {
  namespace: string;
  directors: DirectorEndpoint[];
  apiKey: string;
  vhostCount: number;
  resyncMs: number;
  drainTimeoutMs: number;
  /** The directors' ring port: their ring membership is kept current with the pods' addresses. */
  ringPort: number;
}

/** The doveadm HTTP URL of every proxy by its stable DNS name, as the rendered controller gets them. */
export function directorEndpoints(doc: MailPlatform): DirectorEndpoint[] {
  const { spec } = doc;
  const ns = spec.kubernetes.namespace;
  return Array.from({ length: spec.roles.proxy.replicas }, (_, i) => ({
    url: `https://proxy-${i}.proxy.${ns}.svc.${spec.kubernetes.clusterDomain}:${spec.ports.doveadm}`,
  }));
}

/** The doveadm API key from the platform's Secret, through the API; undefined while it is missing. */
export async function readApiKey(api: KubeApi, doc: MailPlatform): Promise<string | undefined> {
  const ctx = renderContext(doc);
  const secret = await api.get({ apiVersion: 'v1', kind: 'Secret', namespace: ctx.namespace, name: secretName(ctx) });
  const encoded = (secret?.data as Record<string, string> | undefined)?.[SECRET_KEYS.doveadmApiKey];
  const key = encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8').trim();
  return key || undefined;
}

/** Undefined when the platform has nothing to sync (no proxy or no mailbox), as the renderer decides for its controller. */
export function backendSyncSettings(doc: MailPlatform, apiKey: string, endpoints: (doc: MailPlatform) => DirectorEndpoint[] = directorEndpoints): BackendSyncSettings | undefined {
  const { spec } = doc;
  if (spec.roles.proxy.replicas === 0 || spec.roles.mailbox.replicas === 0) return undefined;
  return {
    namespace: spec.kubernetes.namespace,
    directors: endpoints(doc),
    apiKey,
    vhostCount: spec.director.vhostCount,
    resyncMs: spec.director.resyncSeconds * 1000,
    drainTimeoutMs: spec.director.drainTimeoutSeconds * 1000,
    ringPort: spec.ports.director,
  };
}

export interface BackendSyncs {
  /** Starts, restarts with new settings, or (undefined) stops the sync of one platform. */
  ensure(key: string, settings: BackendSyncSettings | undefined): Promise<void>;
  stopAll(): Promise<void>;
  running(): string[];
  /** One registry per running sync, each series labelled with its platform. */
  registries(): Registry[];
}

interface Running {
  fingerprint: string;
  abort: AbortController;
  done: Promise<void>;
  registry: Registry;
}

export function createBackendSyncs(opts: { kubeConfig: KubeConfig; identity: string; log: Logger; leaseDurationMs?: number; renewMs?: number }): BackendSyncs {
  const syncs = new Map<string, Running>();

  async function stop(key: string): Promise<void> {
    const r = syncs.get(key);
    if (!r) return;
    syncs.delete(key);
    r.abort.abort();
    await r.done;
  }

  function start(key: string, s: BackendSyncSettings, fingerprint: string): void {
    const log = opts.log.child({ platform: key, component: 'backend-sync' });
    const registry = new Registry();
    registry.setDefaultLabels({ platform: key });
    const metrics = createBackendMetrics(registry);
    const abort = new AbortController();
    const lease = {
      kubeConfig: opts.kubeConfig,
      namespace: s.namespace,
      name: LEASE_NAME,
      identity: opts.identity,
      log,
      ...(opts.leaseDurationMs ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewMs ? { renewMs: opts.renewMs } : {}),
    };
    const sync = createBackendSync({
      source: createEndpointSliceSource({ kubeConfig: opts.kubeConfig, namespace: s.namespace, service: MAILBOX_SERVICE, log }),
      directors: directorsByName(s.directors.map((d) => d.url)),
      connect: doveadmDirectors({ apiKey: s.apiKey, ringPort: s.ringPort }),
      vhostCount: s.vhostCount,
      resyncMs: s.resyncMs,
      drainTimeoutMs: s.drainTimeoutMs,
      elect: leaseElection(lease),
      log,
      metrics,
    });
    log.info({ namespace: s.namespace, directors: s.directors.length, vhostCount: s.vhostCount }, 'backend sync starting');
    const done = sync.start(abort.signal)
      .catch((err: unknown) => log.error({ err: errorMessage(err) }, 'backend sync stopped'));
    syncs.set(key, { fingerprint, abort, done, registry });
  }

  return {
    async ensure(key, settings) {
      if (!settings) return stop(key);
      const fingerprint = JSON.stringify(settings);
      if (syncs.get(key)?.fingerprint === fingerprint) return;
      await stop(key);
      start(key, settings, fingerprint);
    },
    async stopAll() {
      await Promise.all([...syncs.keys()].map(stop));
    },
    running: () => [...syncs.keys()].sort(),
    registries: () => [...syncs.values()].map((r) => r.registry),
  };
}
