import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createBackendMetrics, createBackendSync, createSocketSource, directorsByName, directorsFromEndpoints, doveadmDirectors, syncSettings,
  type BackendSyncOptions,
} from '../backends/index.ts';
import { createEndpointSliceSource, leaseElection } from '../backends/kube.ts';
import { MailfleetError } from '../errors.ts';
import { serveProbeEndpoints, verdict } from '../http-responder.ts';
import { createLogger } from '../log.ts';
import { controlSocket } from '../runtime/local/index.ts';
import { validateSpec } from '../spec/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = `mailfleet controller --source kube --director https://HOST:PORT[,…] [--namespace NS] [--service mailbox] [--lease NAME] [--identity ID]
                     [--api-key-file FILE] [--vhost-count 100] [--ring-port 9090] [--resync SECONDS] [--listen HOST:PORT] [--kubeconfig FILE]
       mailfleet controller --source local --state-dir DIR [--resync SECONDS] [--listen HOST:PORT]`;
const RESYNC_SECONDS = 30;

function apiKey(file: string | undefined): string {
  if (file) return readFileSync(file, 'utf8').trim();
  const env = process.env.MAILFLEET_DOVEADM_API_KEY;
  if (!env) throw new MailfleetError('USAGE', 'no doveadm API key: pass --api-key-file or set MAILFLEET_DOVEADM_API_KEY');
  return env;
}

/** `mailfleet controller`: the backend-sync controller as its own process (a Deployment in Kubernetes). */
export async function controllerCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    source: { type: 'choice', values: ['kube', 'local'], default: 'kube' },
    director: { type: 'url', list: true },
    namespace: { type: 'name' },
    service: { type: 'name', default: 'mailbox' },
    lease: { type: 'name', default: 'mailfleet-backend-sync' },
    identity: { type: 'string' },
    'api-key-file': { type: 'string' },
    // Bounded as the spec's director.vhostCount and director.resyncSeconds.
    'vhost-count': { type: 'integer', min: 1, max: 1000, default: 100 },
    'ring-port': { type: 'port', default: 9090 },
    resync: { type: 'integer', min: 1, max: 3600, unit: 'seconds' },
    listen: { type: 'host-port', default: '0.0.0.0:8081' },
    kubeconfig: { type: 'string' },
    'state-dir': { type: 'string', short: 's' },
  }, USAGE);
  const { host, port } = values.listen;
  const log = createLogger('backend-sync');
  const metrics = createBackendMetrics();
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());

  // What differs between the sources; everything else is the one assembly below.
  let wiring: Pick<BackendSyncOptions, 'source' | 'directors' | 'connect' | 'vhostCount' | 'resyncMs' | 'drainTimeoutMs' | 'elect'>;
  if (values.source === 'local') {
    if (!values['state-dir']) throw usageError(USAGE, '--source local needs --state-dir');
    const stateDir = values['state-dir'];
    const settings = syncSettings(validateSpec(JSON.parse(readFileSync(join(stateDir, 'spec.json'), 'utf8'))).spec);
    const source = createSocketSource(controlSocket(stateDir), log);
    wiring = {
      source,
      directors: directorsFromEndpoints(() => source.endpoints(), settings.doveadmPort),
      connect: doveadmDirectors(settings),
      vhostCount: settings.vhostCount,
      resyncMs: values.resync === undefined ? settings.resyncMs : values.resync * 1000,
      drainTimeoutMs: settings.drainTimeoutMs,
    };
  } else {
    if (!values.director) throw usageError(USAGE, '--source kube needs --director (the doveadm HTTP URLs of the proxies, by DNS name)');
    // The API key goes with every call: the proxies serve their doveadm API over TLS only.
    const plain = values.director.find((u) => !u.startsWith('https://'));
    if (plain !== undefined) throw usageError(USAGE, `--director ${plain}: the doveadm API is called over https:// only (it carries the API key)`);
    const kc = new KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
    const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const identity = values.identity ?? process.env.POD_NAME ?? hostname();
    wiring = {
      source: createEndpointSliceSource({ kubeConfig: kc, namespace, service: values.service ?? 'mailbox', log }),
      // The directors by DNS name: their ring membership follows the proxies' current addresses.
      directors: directorsByName(values.director.map((u) => u.replace(/\/$/, ''))),
      connect: doveadmDirectors({ apiKey: apiKey(values['api-key-file']), ringPort: values['ring-port'] }),
      vhostCount: values['vhost-count'],
      resyncMs: (values.resync ?? RESYNC_SECONDS) * 1000,
      elect: leaseElection({ kubeConfig: kc, namespace, name: values.lease ?? 'mailfleet-backend-sync', identity, log }),
    };
  }

  const sync = createBackendSync({ ...wiring, log, metrics });
  const server = await serveProbeEndpoints({
    host, port, metrics: metrics.registry, live: () => verdict(true), ready: () => verdict(sync.ready(), 'not synced'), log,
  });
  log.info({ source: values.source, listen: values.listen, vhostCount: wiring.vhostCount, resyncMs: wiring.resyncMs }, 'backend-sync controller starting');
  try {
    await sync.start(abort.signal);
  } finally {
    await server.close();
  }
  return 0;
}
