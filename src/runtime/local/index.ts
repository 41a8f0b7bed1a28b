import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { peersFile, runPrefix, tlsCertsDir } from '../../agent/index.ts';
import {
  createBackendMetrics, createBackendSync, createFeedSource, directorsFromEndpoints, doveadmDirectors, ROUTABLE_TIMEOUT_MS, syncSettings, type BackendSync,
} from '../../backends/index.ts';
import { MailfleetError } from '../../errors.ts';
import { serveProbeEndpoints } from '../../http-responder.ts';
import type { Logger } from '../../log.ts';
import { alertRuleFiles } from '../../observability/index.ts';
import { antivirusRuns, authPolicyRuns, filterRuns, type MailPlatform } from '../../spec/index.ts';
import { createCertificateRenewal, createTlsMetrics } from '../../tls/index.ts';
import { createAddressPool } from './addresses.ts';
import { startControlServer } from './control.ts';
import { roleFigures } from './figures.ts';
import { CONTROLLER_ROLE, startMonitoring, type Monitoring, type MonitoringStatus } from './monitoring.ts';
import { prepareDkimSigning } from './dkim-signing.ts';
import { checkPrerequisites, checkStateDirReachable, ensureMailUser } from './prerequisites.ts';
import { logsDir, privateLogs } from './logs.ts';
import { createLocalRuntime, type LocalRuntime, type Progress } from './runtime.ts';
import { SECRETS_FILE, withLocalSecrets } from './secrets.ts';

export { controlRequest } from './control.ts';
export { LOG_FILE_MODE, logsDir, privateLogs } from './logs.ts';
export { rolePorts, type InstanceStatus, type StatusReport } from './status.ts';
export { FIGURE_QUERIES, type FiguresReport, type RoleFigures } from './figures.ts';
export { CONTROLLER_ROLE, SCRAPE_JOB, type MonitoringStatus } from './monitoring.ts';
export type { CertificateStatus } from '../../tls/index.ts';
export { missingPrerequisites } from './prerequisites.ts';
export type { Pod } from './pod.ts';
export type { LocalRuntime, Progress } from './runtime.ts';

export function controlSocket(stateDir: string): string {
  return join(resolve(stateDir), 'control.sock');
}

/** How long `down` waits for a certificate check in flight. */
const CERTIFICATES_STOP_MS = 5000;

/** The state dir and its `data` dir: searchable by the daemons' users, listable by root only. */
const STATE_DIR_MODE = 0o711;

function lockStateDir(stateDir: string): void {
  const pidFile = join(stateDir, 'runtime.pid');
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid !== process.pid && cmdline.includes('/cli/main.')) {
      throw new MailfleetError('STATE_LOCKED', `a mailfleet runtime (pid ${pid}) already runs on ${stateDir}; stop it with 'mailfleet down'`);
    }
  } catch (err) {
    if (err instanceof MailfleetError) throw err;
  }
  writeFileSync(pidFile, `${process.pid}\n`);
}

export interface LocalPlatform {
  runtime: LocalRuntime;
  /** VictoriaMetrics, vmalert and Alertmanager as they run now. */
  monitoring(): MonitoringStatus | undefined;
  /** Resolves when every instance has stopped (after `down`, SIGTERM or SIGINT). */
  stopped: Promise<void>;
  stop(): void;
}

/**
 * `mailfleet up`: prepares the state directory, starts every instance in dependency order and serves the
 * control socket. Resolves once everything is ready.
 */
export async function startLocalPlatform(opts: {
  platform: MailPlatform;
  stateDir: string;
  agentCommand: string[];
  /** A logger for a component: `runtime`, `backend-sync`. */
  logFor: (component: string) => Logger;
  progress: Progress;
  note: (line: string) => void;
}): Promise<LocalPlatform> {
  const log = opts.logFor('runtime');
  const stateDir = resolve(opts.stateDir);
  const { spec } = opts.platform;
  checkPrerequisites({ alerting: spec.local.alertWebhookUrl !== undefined, antispam: filterRuns(spec), antivirus: antivirusRuns(spec) });
  checkStateDirReachable(stateDir);
  if (ensureMailUser()) opts.note('created system user vmail (owner of mail storage)');
  mkdirSync(stateDir, { recursive: true });
  // Daemons running as vmail, postfix and openldap must reach their directories below it, by name: others may
  // search it, never list it.
  chmodSync(stateDir, STATE_DIR_MODE);
  lockStateDir(stateDir);
  // Secrets the spec leaves out: generated once, then the same at every start.
  const { platform, generated } = withLocalSecrets(opts.platform, stateDir);
  if (generated.length > 0) opts.note(`generated ${generated.join(', ')} (kept in ${join(stateDir, SECRETS_FILE)}, mode 0600)`);
  const logDir = logsDir(stateDir);
  privateLogs(logDir);
  mkdirSync(join(stateDir, 'instances'), { recursive: true });
  // Mail storage and every instance's data (queues, the LDAP database, Redis) live below it.
  mkdirSync(join(stateDir, 'data'), { recursive: true });
  chmodSync(join(stateDir, 'data'), STATE_DIR_MODE);
  mkdirSync(runPrefix(stateDir), { recursive: true });
  // rspamd reads the DKIM signing directory as its own account.
  if (filterRuns(spec)) prepareDkimSigning(stateDir);
  const specFile = join(stateDir, 'spec.json');
  writeFileSync(specFile, JSON.stringify(platform, null, 2) + '\n', { mode: 0o600 });
  chmodSync(specFile, 0o600);

  // One registry for the control socket's /metrics: backend sync and certificates.
  const registry = new Registry();
  // Server certificates before any daemon starts: the daemons read them at start.
  const certificates = createCertificateRenewal({
    platformName: platform.metadata.name,
    tls: platform.spec.tls,
    stateDir,
    certsDir: tlsCertsDir(stateDir),
    log: opts.logFor('tls'),
    metrics: createTlsMetrics(registry),
  });
  const { caCertFile } = await certificates.prepare();
  const { tls } = platform.spec;
  if (tls.issuer === 'local' && caCertFile) opts.note(`trust this CA in your clients: ${caCertFile}`);
  if (tls.issuer === 'acme' && tls.acme) {
    const standIns = certificates.status().filter((c) => c.standIn).map((c) => c.name);
    opts.note(`certificates from ${tls.acme.directory}, HTTP-01 answered on ${tls.acme.http01Listen}${standIns.length > 0 ? `; until its first order succeeds, ${standIns.join(', ')} serve${standIns.length === 1 ? 's' : ''} a stand-in from the local CA` : ''}`);
  }

  const syncAbort = new AbortController();
  const settings = syncSettings(platform.spec);
  let sync: BackendSync | undefined;
  const addresses = createAddressPool(platform.spec.local.addressPool, join(stateDir, 'addresses.json'));
  // The runtime's own metrics on an address of the pool, where VictoriaMetrics scrapes them as the controller.
  const controllerAddress = addresses.allocate();
  // Where VictoriaMetrics scrapes the runtime's metrics as the `controller` role; the control socket's /metrics
  // serves the same text to root.
  const metricsServer = await serveProbeEndpoints({ host: controllerAddress, port: platform.spec.ports.http, metrics: registry, log });
  const runtime: LocalRuntime = createLocalRuntime({
    spec: platform.spec,
    launch: { cli: opts.agentCommand, specFile, stateDir, logDir, httpPort: platform.spec.ports.http, policyPort: platform.spec.ports.policy,
      ...(authPolicyRuns(platform.spec) ? { authPolicyPort: platform.spec.ports.authPolicy } : {}) },
    peersFile: peersFile(stateDir),
    addresses,
    log,
    progress: opts.progress,
    // preStop of a mailbox backend: wait until it is drained out of every director.
    beforeStop: async (pod) => {
      if (pod.role !== 'mailbox' || !sync) return;
      const removed = await sync.waitRemoved(pod.address, settings.drainTimeoutMs + 5000);
      if (!removed) log.warn({ instance: pod.name }, 'backend still in the director after the drain budget; stopping it anyway');
    },
    // A new mailbox backend counts once every director routes new users to it.
    afterReady: async (pod) => {
      if (pod.role !== 'mailbox' || !sync) return;
      await sync.waitRoutable(pod, ROUTABLE_TIMEOUT_MS, syncAbort.signal);
    },
  });
  const metrics = createBackendMetrics(registry);
  const certificatesStopped = certificates.start(syncAbort.signal);
  if (platform.spec.roles.proxy.replicas > 0) {
    sync = createBackendSync({
      source: createFeedSource(runtime.endpoints),
      directors: directorsFromEndpoints(() => runtime.endpoints.list(), settings.doveadmPort),
      connect: doveadmDirectors(settings),
      vhostCount: settings.vhostCount,
      resyncMs: settings.resyncMs,
      drainTimeoutMs: settings.drainTimeoutMs,
      log: opts.logFor('backend-sync'),
      metrics,
    });
    void sync.start(syncAbort.signal);
  }

  let stopRequested: () => void = () => undefined;
  const stopSignal = new Promise<void>((r) => {
    stopRequested = r;
  });
  const server = await startControlServer({
    socketPath: controlSocket(stateDir),
    runtime,
    spec: platform.spec,
    log,
    onDown: () => stopRequested(),
    directorView: async () => sync?.view() ?? [],
    certificates: () => certificates.status(),
    metrics: () => registry.metrics(),
    monitoring: () => monitoring?.status(),
    figures: async () => {
      const roles = [...new Set([...runtime.pods().map((p) => p.role as string), CONTROLLER_ROLE])];
      return monitoring ? roleFigures(monitoring.queryUrl, roles) : { roles: [], error: 'VictoriaMetrics is not running' };
    },
  });
  const onSignal = () => stopRequested();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let monitoring: Monitoring | undefined;
  const monitoringStarted = startMonitoring({
    spec: platform.spec,
    stateDir,
    logDir,
    addresses,
    endpoints: runtime.endpoints,
    controllerTarget: `${controllerAddress}:${platform.spec.ports.http}`,
    // The same rule packs Kubernetes mounts, without a namespace: series here carry none.
    rules: { files: alertRuleFiles(platform.spec), evaluationSeconds: platform.spec.alerting.evaluationSeconds },
    log: opts.logFor('monitoring'),
    onCrash: (name, code, backoffMs) => opts.note(`${name} exited (${code}); restarting in ${backoffMs} ms`),
  }).then((m) => {
    monitoring = m;
  });

  const stopped = stopSignal.then(async () => {
    log.info('stopping platform');
    await runtime.down();
    // After the instances, so that their last moments are still recorded; one still starting is waited for.
    await monitoringStarted.catch(() => undefined);
    await monitoring?.stop();
    await metricsServer.close();
    syncAbort.abort();
    // An ACME order in flight is abandoned after a bounded wait: its answer would only be installed.
    await Promise.race([certificatesStopped, delay(CERTIFICATES_STOP_MS, undefined, { ref: false })]);
    await new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
    rmSync(join(stateDir, 'runtime.pid'), { force: true });
    rmSync(runPrefix(stateDir), { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log.info('platform stopped');
  });

  try {
    // VictoriaMetrics first, so that it records the instances as they come up.
    const up = monitoringStarted.then(() => runtime.up());
    await Promise.race([up, stopSignal.then(() => { throw new MailfleetError('INSTANCE_START_FAILED', 'stopped while starting'); })]);
  } catch (err) {
    stopRequested();
    await stopped;
    throw err;
  }
  return { runtime, stopped, stop: () => stopRequested(), monitoring: () => monitoring?.status() };
}
