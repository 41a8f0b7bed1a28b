import { chmodSync, chownSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { EndpointWatch } from '../../backends/index.ts';
import {
  adminKeyEnvironment, ALERTMANAGER_CONFIG_FILE, alertmanagerConfig, ENV_FLAGS_FLAG, SCRAPE_CONFIG_FILE, scrapeConfig, scrapeTargetsFile, VMALERT_NOTIFIER_FILE, VICTORIAMETRICS_ADMIN_FLAGS, VMALERT_ADMIN_FLAGS,
  vmalertNotifierConfig, type ConfigFiles, type ScrapeTargetGroup,
} from '../../config/index.ts';
import { errorMessage, MailfleetError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { requireSecret, type PlatformSpec } from '../../spec/index.ts';
import type { AddressPool } from './addresses.ts';
import { startSupervised, type SupervisedProcess } from './supervised.ts';

export const VICTORIAMETRICS_PORT = 8428;
export const VMALERT_PORT = 8880;
export const ALERTMANAGER_PORT = 9093;
/** The scrape job of every instance and of the runtime's own metrics. */
export const SCRAPE_JOB = 'mailfleet';
/** The runtime's own metrics (backend sync, certificates) are scraped as this role and instance. */
export const CONTROLLER_ROLE = 'controller';
/** How often VictoriaMetrics re-reads the targets file: a new address is scraped within seconds. */
const TARGETS_CHECK_S = 2;
/**
 * Instant queries see samples this old: VictoriaMetrics' default (30 s) guards a cluster's slow inserts,
 * which one process scraping loopback does not have; alerts and `status` would lag by it.
 */
const QUERY_LATENCY_OFFSET_S = 2;
const RETENTION = '30d';
const HEALTHY_TIMEOUT_MS = 30_000;
/** Debian's `nobody`/`nogroup`: the three run unprivileged, as their images do in Kubernetes. */
const NOBODY = 65534;

export const VICTORIAMETRICS = '/usr/bin/victoria-metrics';
export const VMALERT = '/usr/bin/vmalert';
export const ALERTMANAGER = '/usr/bin/prometheus-alertmanager';

interface ProcessStatus {
  url: string;
  pid: number | null;
  restarts: number;
}

/** The metrics and alerting processes of the single host, for `status` and `up`. */
export interface MonitoringStatus {
  /** `ui`: its web UI (`/vmui/`), or its start page where the build has no UI. */
  victoriametrics: ProcessStatus & { ui: string };
  /** Present when there are alert rules to evaluate. */
  vmalert?: ProcessStatus & { ui: string };
  /** Present when the spec names a webhook (`spec.local.alertWebhookUrl`). */
  alertmanager?: ProcessStatus & { webhookUrl: string };
  /** The runtime's own metrics (backend sync, certificates), scraped as the `controller` role. */
  runtimeMetrics: string;
}

export interface Monitoring {
  /** VictoriaMetrics' base URL (Prometheus query API below it). */
  readonly queryUrl: string;
  status(): MonitoringStatus;
  /** Stops vmalert, Alertmanager, then VictoriaMetrics; resolves once all are gone. */
  stop(): Promise<void>;
}

export interface MonitoringOptions {
  spec: PlatformSpec;
  stateDir: string;
  logDir: string;
  addresses: AddressPool;
  /** Every instance as the runtime publishes it: each is scraped at its agent's HTTP port. */
  endpoints: EndpointWatch;
  /** `host:port` of the runtime's own /metrics, scraped as the `controller` role. */
  controllerTarget: string;
  /** The alert rule files vmalert evaluates (by file name) and the seconds between two evaluations; without them vmalert is not started. */
  rules?: { files: ConfigFiles; evaluationSeconds: number };
  log: Logger;
  onCrash?: (name: string, code: number, backoffMs: number) => void;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

async function healthy(url: string, what: string, logFile: string, restarts: () => number): Promise<void> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  for (;;) {
    if (await answers(url)) return;
    if (Date.now() > deadline) {
      throw new MailfleetError('INSTANCE_START_FAILED', `${what} not healthy after ${HEALTHY_TIMEOUT_MS / 1000} s${restarts() > 0 ? ` (exited ${restarts()} times)` : ''}; see ${logFile}`);
    }
    await delay(200);
  }
}

/** A directory the unprivileged processes own, kept across restarts like a volume. */
function dataDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, NOBODY, NOBODY);
  chmodSync(path, 0o700);
  return path;
}

function writeFiles(dir: string, files: ConfigFiles): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text, { mode: 0o644 });
}

/**
 * VictoriaMetrics scraping every instance, vmalert evaluating the alert rules against it and, when the spec names a
 * webhook, Alertmanager posting there. Each listens on its own address of the pool and is supervised like an
 * instance. The scrape targets live in a file rewritten on every endpoint event, which VictoriaMetrics re-reads
 * every few seconds: scaling and restarts (new addresses) never restart it.
 */
export async function startMonitoring(opts: MonitoringOptions): Promise<Monitoring> {
  const { spec, log } = opts;
  // Every local user reaches these loopback addresses: changing or erasing the metrics takes the key.
  const adminKey = requireSecret(spec, 'metricsAdminKey');
  const dir = join(opts.stateDir, 'monitoring');
  const rulesDir = join(dir, 'rules');
  rmSync(rulesDir, { recursive: true, force: true });
  mkdirSync(rulesDir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const pidFile = (name: string) => join(dir, `${name}.pid`);
  const logFile = (name: string) => join(opts.logDir, `${name}.log`);
  const started: SupervisedProcess[] = [];
  const supervise = async (name: string, argv: string[], env?: Record<string, string>) => {
    const p = await startSupervised({
      name, argv, ...(env ? { env } : {}), uid: NOBODY, gid: NOBODY, logFile: logFile(name), pidFile: pidFile(name), log,
      onCrash: (code, backoffMs) => opts.onCrash?.(name, code, backoffMs),
    });
    started.push(p);
    return p;
  };
  const stopAll = async () => {
    for (const p of [...started].reverse()) await p.stop();
  };

  // Scrape targets: the runtime's own metrics and every instance's agent.
  const targetsFile = join(dir, 'targets.json');
  let lastTargets = '';
  const writeTargets = () => {
    const groups: ScrapeTargetGroup[] = [{ targets: [opts.controllerTarget], labels: { role: CONTROLLER_ROLE, instance: CONTROLLER_ROLE } }];
    for (const e of opts.endpoints.list()) groups.push({ targets: [`${e.address}:${spec.ports.http}`], labels: { role: e.role, instance: e.name } });
    const text = scrapeTargetsFile(groups);
    if (text === lastTargets) return;
    writeFileSync(`${targetsFile}.tmp`, text, { mode: 0o644 });
    renameSync(`${targetsFile}.tmp`, targetsFile);
    lastTargets = text;
  };
  writeTargets();
  // Called from the runtime's endpoint events: a failed write is logged (the next event retries), never thrown into them.
  const unsubscribe = opts.endpoints.subscribe(() => {
    try {
      writeTargets();
    } catch (err) {
      log.error({ err: errorMessage(err), file: targetsFile }, 'scrape targets not written');
    }
  });

  try {
    writeFiles(dir, scrapeConfig(spec, { files: [{ job: SCRAPE_JOB, files: [targetsFile], honorLabels: true }] }, { intervalSeconds: spec.local.scrapeIntervalSeconds }));
    const vmAddress = opts.addresses.allocate();
    const vmUrl = `http://${vmAddress}:${VICTORIAMETRICS_PORT}`;
    const vm = await supervise('victoriametrics', [
      VICTORIAMETRICS,
      `-httpListenAddr=${vmAddress}:${VICTORIAMETRICS_PORT}`,
      `-storageDataPath=${dataDir(join(opts.stateDir, 'data', 'victoriametrics'))}`,
      `-retentionPeriod=${RETENTION}`,
      `-promscrape.config=${join(dir, SCRAPE_CONFIG_FILE)}`,
      '-promscrape.config.strictParse',
      `-promscrape.fileSDCheckInterval=${TARGETS_CHECK_S}s`,
      `-search.latencyOffset=${QUERY_LATENCY_OFFSET_S}s`,
      ENV_FLAGS_FLAG,
    ], adminKeyEnvironment(VICTORIAMETRICS_ADMIN_FLAGS, adminKey));
    await healthy(`${vmUrl}/health`, 'victoriametrics', logFile('victoriametrics'), () => vm.restarts());
    // Debian's build leaves out the web UI's bundle (/vmui/ answers 404): its start page lists targets and the APIs.
    const vmUi = (await answers(`${vmUrl}/vmui/`)) ? `${vmUrl}/vmui/` : `${vmUrl}/`;

    const webhookUrl = spec.local.alertWebhookUrl;
    let am: { proc: SupervisedProcess; url: string; webhookUrl: string } | undefined;
    const notifyTo: string[] = [];
    if (webhookUrl !== undefined) {
      const amAddress = opts.addresses.allocate();
      const amUrl = `http://${amAddress}:${ALERTMANAGER_PORT}`;
      writeFiles(dir, alertmanagerConfig(spec, { ...spec.local.alertTimings, webhookUrl }));
      const proc = await supervise('alertmanager', [
        ALERTMANAGER,
        `--config.file=${join(dir, ALERTMANAGER_CONFIG_FILE)}`,
        `--storage.path=${dataDir(join(opts.stateDir, 'data', 'alertmanager'))}`,
        `--web.listen-address=${amAddress}:${ALERTMANAGER_PORT}`,
        `--web.external-url=${amUrl}/`,
        // One Alertmanager: no gossip port.
        '--cluster.listen-address=',
      ]);
      await healthy(`${amUrl}/-/ready`, 'alertmanager', logFile('alertmanager'), () => proc.restarts());
      am = { proc, url: amUrl, webhookUrl };
      notifyTo.push(`${amAddress}:${ALERTMANAGER_PORT}`);
    }

    let vmalert: { proc: SupervisedProcess; url: string } | undefined;
    const { rules } = opts;
    if (rules !== undefined) {
      writeFiles(rulesDir, rules.files);
      writeFiles(dir, vmalertNotifierConfig(notifyTo));
      const vmalertAddress = opts.addresses.allocate();
      const url = `http://${vmalertAddress}:${VMALERT_PORT}`;
      const proc = await supervise('vmalert', [
        VMALERT,
        `-httpListenAddr=${vmalertAddress}:${VMALERT_PORT}`,
        `-rule=${join(rulesDir, '*.yaml')}`,
        `-datasource.url=${vmUrl}`,
        // Alert state as series in VictoriaMetrics, read back after a restart so a pending `for:` is not reset.
        `-remoteWrite.url=${vmUrl}`,
        `-remoteRead.url=${vmUrl}`,
        `-notifier.config=${join(dir, VMALERT_NOTIFIER_FILE)}`,
        `-evaluationInterval=${rules.evaluationSeconds}s`,
        `-external.url=${url}`,
        ENV_FLAGS_FLAG,
      ], adminKeyEnvironment(VMALERT_ADMIN_FLAGS, adminKey));
      await healthy(`${url}/health`, 'vmalert', logFile('vmalert'), () => proc.restarts());
      vmalert = { proc, url };
    }

    const status = (p: SupervisedProcess, url: string): ProcessStatus => ({ url, pid: p.pid() ?? null, restarts: p.restarts() });
    return {
      queryUrl: vmUrl,
      status: () => ({
        victoriametrics: { ...status(vm, vmUrl), ui: vmUi },
        ...(vmalert ? { vmalert: { ...status(vmalert.proc, vmalert.url), ui: `${vmalert.url}/` } } : {}),
        ...(am ? { alertmanager: { ...status(am.proc, am.url), webhookUrl: am.webhookUrl } } : {}),
        runtimeMetrics: `http://${opts.controllerTarget}/metrics`,
      }),
      async stop() {
        unsubscribe();
        await stopAll();
      },
    };
  } catch (err) {
    unsubscribe();
    await stopAll();
    throw err;
  }
}
