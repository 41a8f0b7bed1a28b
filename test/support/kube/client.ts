import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
/**
 * Test-side helpers around the real `@kubernetes/client-node`: a started server with ready-made
 * API clients (stopped in `t.after`), the Status inside a rejected call, polling with a deadline,
 * and a recorder for informer events.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type Informer,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { kubeConfigFor, startKubeApiServer, type KubeApiServer, type KubeApiServerOptions } from './api-server.ts';

export interface TestCluster {
  server: KubeApiServer;
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  discovery: DiscoveryV1Api;
  coordination: CoordinationV1Api;
  objects: KubernetesObjectApi;
}

export async function startTestCluster(t: TestContext, options?: KubeApiServerOptions): Promise<TestCluster> {
  const server = await startKubeApiServer(options);
  t.after(() => server.close());
  const kc = kubeConfigFor(server);
  return {
    server,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    apps: kc.makeApiClient(AppsV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
  };
}

export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** Awaits a call that must fail with an ApiException and returns the Status the server sent. */
export async function rejectionStatus(call: Promise<unknown>): Promise<ApiStatus> {
  const err = await call.then(
    () => assert.fail('the call succeeded but was expected to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
  const status = JSON.parse(String(err.body)) as ApiStatus & { kind: string };
  assert.equal(status.kind, 'Status');
  assert.equal(status.code, err.code);
  return status;
}

/** Polls until `probe` returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

export interface InformerEvent {
  type: 'add' | 'update' | 'delete' | 'connect' | 'error';
  name?: string;
  resourceVersion?: string;
  error?: { name?: string; message?: string; statusCode?: number; code?: string };
}

export interface InformerRecorder {
  events: InformerEvent[];
  /** Object events only, as `type:name`. */
  changes(): string[];
  /** The first event at index `from` or later that matches. */
  next(match: (e: InformerEvent) => boolean, from?: number, timeoutMs?: number): Promise<InformerEvent>;
}

export function recordInformer<T extends KubernetesObject>(informer: Informer<T>): InformerRecorder {
  const events: InformerEvent[] = [];
  const onObject = (type: 'add' | 'update' | 'delete') => (obj: T) => {
    events.push({ type, name: obj.metadata?.name ?? '', resourceVersion: obj.metadata?.resourceVersion ?? '' });
  };
  informer.on('add', onObject('add'));
  informer.on('update', onObject('update'));
  informer.on('delete', onObject('delete'));
  informer.on('connect', () => events.push({ type: 'connect' }));
  informer.on('error', (err?: { name?: string; message?: string; statusCode?: number; cause?: { code?: string } }) => {
    events.push({ type: 'error', error: { name: err?.name, message: err?.message, statusCode: err?.statusCode, code: err?.cause?.code } });
  });
  return {
    events,
    changes: () => events.filter((e) => e.type === 'add' || e.type === 'update' || e.type === 'delete').map((e) => `${e.type}:${e.name}`),
    next: (match, from = 0, timeoutMs = 5_000) => waitFor('an informer event', () => events.slice(from).find(match), timeoutMs),
  };
}

/** A kubeconfig file for a process started by a test (a CLI under test): the server's URL and token. */
export function writeKubeconfig(cluster: TestCluster, path: string, namespace: string): string {
  writeFileSync(path, stringify({
    apiVersion: 'v1',
    kind: 'Config',
    // Plain HTTP on loopback: client-node allows it only with TLS verification off.
    clusters: [{ name: 'test', cluster: { server: cluster.server.url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'test', user: { token: cluster.server.token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', namespace } }],
    'current-context': 'test',
  }));
  return path;
}
