/**
 * The scrape config VictoriaMetrics loads with `-promscrape.config` (Prometheus format, so promtool
 * reads it too). In Kubernetes it finds the platform's pods by their `prometheus.io/*` annotations
 * (the `annotations` scrape mode); on the single host it reads the instances' addresses from a targets
 * file (`file_sd_configs`) that the runtime rewrites whenever an instance starts, stops or moves, so
 * VictoriaMetrics follows the platform without being restarted.
 */
import type { PlatformSpec } from '../spec/index.ts';
import { configYaml, sortedMap } from './config-yaml.ts';
import type { ConfigFiles } from './context.ts';

export const SCRAPE_CONFIG_FILE = 'scrape.yml';
/** The job of every pod found in Kubernetes. */
export const KUBERNETES_SCRAPE_JOB = 'mailfleet-pods';
export const DEFAULT_SCRAPE_INTERVAL_S = 30;
const MAX_SCRAPE_TIMEOUT_S = 10;

export interface StaticScrapeJob {
  /** `job` label of its targets; unique. */
  job: string;
  /** `host:port` of each `/metrics`. */
  targets: string[];
  /** Extra labels on every target of the job (e.g. `role`). */
  labels?: Record<string, string>;
}

export interface FileScrapeJob {
  /** `job` label of its targets; unique. */
  job: string;
  /** Absolute paths of targets files ({@link scrapeTargetsFile}); re-read every `-promscrape.fileSDCheckInterval`. */
  files: string[];
  /**
   * A label the target's own series carry wins over the targets file's (`honor_labels`), instead of being kept
   * as `exported_<name>`: for targets that label themselves (mailfleet agents set `role` and `instance`). Default false.
   */
  honorLabels?: boolean;
}

/** One group of a targets file: `host:port` of each `/metrics` and the labels they all carry. */
export interface ScrapeTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

export type ScrapeMode = 'kubernetes' | { static: StaticScrapeJob[] } | { files: FileScrapeJob[] };

export interface ScrapeOptions {
  /** Seconds between scrapes. Default {@link DEFAULT_SCRAPE_INTERVAL_S}; the timeout is the smaller of 10 s and this. */
  intervalSeconds?: number;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TARGET = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$/;

const annotation = (name: string) => `__meta_kubernetes_pod_annotation_prometheus_io_${name}`;

/** Pod discovery in the platform's namespace, keeping only pods that ask to be scraped. */
function kubernetesJob(spec: PlatformSpec): Record<string, unknown> {
  return {
    job_name: KUBERNETES_SCRAPE_JOB,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [spec.kubernetes.namespace] } }],
    relabel_configs: [
      { source_labels: [annotation('scrape')], action: 'keep', regex: 'true' },
      { source_labels: ['__meta_kubernetes_pod_phase'], action: 'drop', regex: 'Pending|Succeeded|Failed|Completed' },
      { source_labels: [annotation('path')], action: 'replace', regex: '(.+)', target_label: '__metrics_path__' },
      // The pod IP with the annotated port, bracketed when it is IPv6.
      {
        source_labels: [annotation('port'), '__meta_kubernetes_pod_ip'],
        action: 'replace',
        regex: '(\\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})',
        replacement: '[$2]:$1',
        target_label: '__address__',
      },
      {
        source_labels: [annotation('port'), '__meta_kubernetes_pod_ip'],
        action: 'replace',
        regex: '(\\d+);((([0-9]+?)(\\.|$)){4})',
        replacement: '$2:$1',
        target_label: '__address__',
      },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'instance' },
      { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], target_label: 'role' },
      { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
    ],
  };
}

/** `host:port` split at its last colon. */
export function hostPort(target: string): { host: string; port: number } {
  const at = target.lastIndexOf(':');
  return { host: target.slice(0, at), port: Number(target.slice(at + 1)) };
}

/**
 * The cluster's exporters the Kubernetes and host packs read (`spec.kubernetes.clusterMetrics`): kube-state-metrics
 * with its own labels kept (its `namespace` is the object's) and only the platform namespace's series stored, and
 * every node's exporter found through the addresses of a headless Service.
 */
function clusterJobs(spec: PlatformSpec): Record<string, unknown>[] {
  const { kubeStateMetrics, nodeExporter } = spec.kubernetes.clusterMetrics;
  const jobs: Record<string, unknown>[] = [];
  if (kubeStateMetrics !== '') {
    jobs.push({
      job_name: 'kube-state-metrics',
      honor_labels: true,
      static_configs: [{ targets: [kubeStateMetrics] }],
      metric_relabel_configs: [{ source_labels: ['namespace'], action: 'keep', regex: spec.kubernetes.namespace }],
    });
  }
  if (nodeExporter !== '') {
    const { host, port } = hostPort(nodeExporter);
    jobs.push({ job_name: 'node-exporter', dns_sd_configs: [{ names: [host], type: 'A', port }] });
  }
  return jobs;
}

/** Job names: non-empty, one line, each used once. */
function checkJobNames(jobs: readonly { job: string }[]): void {
  const seen = new Set<string>();
  for (const { job } of jobs) {
    if (job === '' || /[\n\r]/.test(job) || seen.has(job)) throw new RangeError(`scrape job name ${JSON.stringify(job)} is empty, multi-line or repeated`);
    seen.add(job);
  }
}

function checkGroup(where: string, targets: readonly string[], labels: Readonly<Record<string, string>>): void {
  for (const t of targets) if (!TARGET.test(t)) throw new RangeError(`scrape target ${JSON.stringify(t)} of ${where} is not host:port`);
  for (const name of Object.keys(labels)) if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new RangeError(`label name ${JSON.stringify(name)} of ${where} is not allowed`);
}

function staticJobs(jobs: readonly StaticScrapeJob[]): Record<string, unknown>[] {
  checkJobNames(jobs);
  return jobs.map(({ job, targets, labels = {} }) => {
    checkGroup(`job ${job}`, targets, labels);
    const group = Object.keys(labels).length > 0 ? { targets: [...targets], labels: sortedMap(labels) } : { targets: [...targets] };
    return { job_name: job, static_configs: [group] };
  });
}

function fileJobs(jobs: readonly FileScrapeJob[]): Record<string, unknown>[] {
  checkJobNames(jobs);
  return jobs.map(({ job, files, honorLabels = false }) => {
    if (files.length === 0) throw new RangeError(`scrape job ${job} names no targets file`);
    for (const f of files) if (!f.startsWith('/') || /[\n\r*?[]/.test(f)) throw new RangeError(`targets file ${JSON.stringify(f)} of job ${job} is not an absolute path without patterns`);
    return { job_name: job, ...(honorLabels ? { honor_labels: true } : {}), file_sd_configs: [{ files: [...files] }] };
  });
}

/**
 * A targets file for `file_sd_configs` (JSON, the format both VictoriaMetrics and Prometheus read): the
 * groups sorted by their labels, targets and labels sorted, so the same platform gives the same bytes and a
 * rewrite only happens when something moved.
 */
export function scrapeTargetsFile(groups: readonly ScrapeTargetGroup[]): string {
  const rendered = groups.map(({ targets, labels }) => {
    checkGroup(`targets group ${JSON.stringify(labels)}`, targets, labels);
    return { targets: [...targets].sort(), labels: sortedMap(labels) };
  });
  const key = (g: { targets: string[]; labels: Record<string, string> }) => JSON.stringify([g.labels, g.targets]);
  rendered.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return JSON.stringify(rendered, null, 2) + '\n';
}

/** `scrape.yml`: the global intervals and the scrape jobs of `mode`. */
export function scrapeConfig(spec: PlatformSpec, mode: ScrapeMode, opts: ScrapeOptions = {}): ConfigFiles {
  const interval = opts.intervalSeconds ?? DEFAULT_SCRAPE_INTERVAL_S;
  if (!Number.isInteger(interval) || interval < 1) throw new RangeError(`scrape interval must be a whole number of seconds ≥ 1, not ${interval}`);
  const jobs = mode === 'kubernetes' ? [kubernetesJob(spec), ...clusterJobs(spec)] : 'static' in mode ? staticJobs(mode.static) : fileJobs(mode.files);
  const config = {
    global: { scrape_interval: `${interval}s`, scrape_timeout: `${Math.min(interval, MAX_SCRAPE_TIMEOUT_S)}s` },
    scrape_configs: jobs,
  };
  return { [SCRAPE_CONFIG_FILE]: configYaml(config) };
}
