import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import {
  createBackendController, createBackendMetrics, createDirectorSink, createEndpointSliceSource, createRingSync, createSocketSource, membersByName, runWithLease,
  startControllerHttp, type BackendSource, type DirectorEndpoint, type RingMember,
} from '../backends/index.ts';
import { MailfleetError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { controlSocket } from '../runtime/local/index.ts';
import { requireSecret, validateSpec } from '../spec/index.ts';
import { parse, usageError } from './args.ts';

const USAGE = `mailfleet controller --source kube --director URL[,URL…] [--namespace NS] [--service mailbox] [--lease NAME] [--identity ID]
                     [--api-key-file FILE] [--vhost-count 100] [--ring-port 9090] [--resync SECONDS] [--listen HOST:PORT] [--kubeconfig FILE]
       mailfleet controller --source local --state-dir DIR [--listen HOST:PORT]`;

function apiKey(file: string | undefined): string {
  if (file) return readFileSync(file, 'utf8').trim();
  const env = process.env.MAILFLEET_DOVEADM_API_KEY;
  if (!env) throw new MailfleetError('USAGE', 'no doveadm API key: pass --api-key-file or set MAILFLEET_DOVEADM_API_KEY');
  return env;
}

/** `mailfleet controller`: the backend-sync controller as its own process (a Deployment in Kubernetes). */
export async function controllerCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    source: { type: 'string', default: 'kube' },
    director: { type: 'string' },
    namespace: { type: 'string' },
    service: { type: 'string', default: 'mailbox' },
    lease: { type: 'string', default: 'mailfleet-backend-sync' },
    identity: { type: 'string' },
    'api-key-file': { type: 'string' },
    'vhost-count': { type: 'string', default: '100' },
    'ring-port': { type: 'string', default: '9090' },
    resync: { type: 'string', default: '30' },
    listen: { type: 'string', default: '0.0.0.0:8081' },
    kubeconfig: { type: 'string' },
    'state-dir': { type: 'string', short: 's' },
  }, USAGE);
  const [host = '0.0.0.0', port = '8081'] = values.listen?.split(':') ?? [];
  const log = createLogger('backend-sync');
  const metrics = createBackendMetrics();
  const abort = new AbortController();
  process.once('SIGTERM', () => abort.abort());
  process.once('SIGINT', () => abort.abort());

  let source: BackendSource;
  let endpoints: () => DirectorEndpoint[];
  let key: string;
  let vhostCount = Number(values['vhost-count']);
  let resyncMs = Number(values.resync) * 1000;
  let kube: { kc: KubeConfig; namespace: string } | undefined;
  let ringMembers: () => RingMember[] | Promise<RingMember[]>;
  let ringPort = Number(values['ring-port']);

  if (values.source === 'local') {
    if (!values['state-dir']) throw usageError(USAGE, '--source local needs --state-dir');
    const stateDir = values['state-dir'];
    const spec = validateSpec(JSON.parse(readFileSync(join(stateDir, 'spec.json'), 'utf8'))).spec;
    const local = createSocketSource(controlSocket(stateDir), log);
    source = local;
    const members = (): RingMember[] => local.proxies().filter((p) => p.ready).map((p) => ({ address: p.address, url: `http://${p.address}:${spec.ports.doveadm}` }));
    endpoints = () => members().map((m) => ({ url: m.url }));
    ringMembers = members;
    ringPort = spec.ports.director;
    key = requireSecret(spec, 'doveadmApiKey');
    vhostCount = spec.director.vhostCount;
    resyncMs = spec.director.resyncSeconds * 1000;
  } else if (values.source === 'kube') {
    if (!values.director) throw usageError(USAGE, '--source kube needs --director (the doveadm HTTP URLs of the proxies, by DNS name)');
    const kc = new KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig);
    else kc.loadFromDefault();
    const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    kube = { kc, namespace };
    source = createEndpointSliceSource({ kubeConfig: kc, namespace, service: values.service ?? 'mailbox', log });
    const urls = values.director.split(',').map((u) => ({ url: u.trim().replace(/\/$/, '') }));
    endpoints = () => urls;
    ringMembers = membersByName(urls.map((u) => u.url));
    key = apiKey(values['api-key-file']);
  } else {
    throw usageError(USAGE, '--source must be kube or local');
  }

  // The directors' ring membership follows the proxies' current addresses (by DNS name in Kubernetes).
  const ring = createRingSync({ apiKey: key, ringPort, members: ringMembers, log });
  const controller = createBackendController({ source, sink: createDirectorSink({ apiKey: key, endpoints }), vhostCount, resyncMs, log, metrics, ring });
  // A standby replica (not holding the Lease) is ready to take over: only the leader must have synced.
  let leading = !kube;
  const server = await startControllerHttp({ host, port: Number(port), registry: metrics.registry, ready: () => !leading || source.list() !== undefined });
  log.info({ source: values.source, listen: values.listen, vhostCount, resyncMs }, 'backend-sync controller starting');
  try {
    if (kube) {
      const identity = values.identity ?? process.env.POD_NAME ?? hostname();
      await runWithLease({ kubeConfig: kube.kc, namespace: kube.namespace, name: values.lease ?? 'mailfleet-backend-sync', identity, log }, abort.signal, async (signal) => {
        leading = true;
        try {
          await controller.start(signal);
        } finally {
          leading = false;
        }
      });
    } else {
      await controller.start(abort.signal);
    }
  } finally {
    server.close();
  }
  return 0;
}
