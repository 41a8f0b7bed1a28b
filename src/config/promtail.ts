/**
 * promtail, a DaemonSet: on each node it tails the container logs of the platform's pods
 * (`/var/log/pods`, CRI format) and pushes them to the Loki Service in the namespace, labelled by
 * role, instance (the pod) and namespace, the same labels the metrics carry.
 */
import type { PlatformSpec } from '../spec/index.ts';
import { configYaml } from './config-yaml.ts';
import type { ConfigFiles } from './context.ts';
import { LOKI_HTTP_PORT } from './loki.ts';

export const PROMTAIL_CONFIG_FILE = 'promtail.yaml';
export const PROMTAIL_HTTP_PORT = 9080;
/** Read offsets; on a hostPath so a restarted promtail neither re-sends nor skips lines. */
export const PROMTAIL_POSITIONS_FILE = '/run/promtail/positions.yaml';
/** Where the kubelet keeps container logs; mounted read-only from the node. */
export const POD_LOG_DIR = '/var/log/pods';
/**
 * promtail keeps only targets whose `__host__` is its own host name: the DaemonSet sets this variable
 * from `spec.nodeName`, so each promtail tails its own node's pods.
 */
export const PROMTAIL_NODE_ENV = 'HOSTNAME';
export const PROMTAIL_JOB = 'mailfleet-pods';
export const DEFAULT_LOKI_SERVICE = 'loki';

export interface PromtailOptions {
  /** Name of the Loki Service in the platform's namespace. Default {@link DEFAULT_LOKI_SERVICE}. */
  lokiService?: string;
}

/** `promtail.yaml`. */
export function promtailConfig(spec: PlatformSpec, opts: PromtailOptions = {}): ConfigFiles {
  const { namespace, clusterDomain } = spec.kubernetes;
  const service = opts.lokiService ?? DEFAULT_LOKI_SERVICE;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(service)) throw new RangeError(`Loki Service name ${JSON.stringify(service)} is not a DNS label`);
  const config = {
    server: { http_listen_port: PROMTAIL_HTTP_PORT, grpc_listen_port: 0, log_level: 'info' },
    positions: { filename: PROMTAIL_POSITIONS_FILE },
    clients: [{ url: `http://${service}.${namespace}.svc.${clusterDomain}:${LOKI_HTTP_PORT}/loki/api/v1/push` }],
    scrape_configs: [
      {
        job_name: PROMTAIL_JOB,
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [namespace] } }],
        pipeline_stages: [{ cri: {} }],
        relabel_configs: [
          { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: '__host__' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], target_label: 'role' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'instance' },
          { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
          // /var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log
          {
            source_labels: ['__meta_kubernetes_pod_uid', '__meta_kubernetes_pod_container_name'],
            separator: '/',
            target_label: '__path__',
            replacement: `${POD_LOG_DIR}/*$1/*.log`,
          },
        ],
      },
    ],
  };
  return { [PROMTAIL_CONFIG_FILE]: configYaml(config) };
}
