/**
 * Loki as one process (`target: all`) keeping chunks and its TSDB index in the ISP's S3-compatible
 * object store (`spec.kubernetes.logs`). The config names the credentials only as `${S3_ACCESS_KEY_ID}`
 * and `${S3_SECRET_ACCESS_KEY}`: the pod sets them from the credentials Secret and Loki expands them
 * when started with {@link LOKI_EXPAND_ENV_FLAG}, so no secret is ever in a ConfigMap.
 */
import type { PlatformSpec } from '../spec/index.ts';
import { configYaml } from './config-yaml.ts';
import type { ConfigFiles } from './context.ts';

export const LOKI_CONFIG_FILE = 'loki.yaml';
/** The Loki Service's port: the logs gateway (`mailfleet logs-gateway`) in Loki's pod, which passes pushes and reads only. */
export const LOKI_HTTP_PORT = 3100;
/** Loki's own HTTP listener, on its pod's loopback only: the gateway is the one way in. */
export const LOKI_LOOPBACK_HTTP_PORT = 3101;
export const LOKI_GRPC_PORT = 9095;
/** Where Loki keeps its WAL, index cache and compactor state: the logs volume. */
export const LOKI_DATA_DIR = '/var/loki';
/** Loki must be started with this so `${VAR}` in the config is replaced from the environment. */
export const LOKI_EXPAND_ENV_FLAG = '-config.expand-env=true';
/** Environment variables the pod sets from the credentials Secret (`spec.kubernetes.logs.credentialsSecret`). */
export const LOKI_S3_ENV = { accessKeyId: 'S3_ACCESS_KEY_ID', secretAccessKey: 'S3_SECRET_ACCESS_KEY' } as const;
/** Keys of the credentials Secret, one per variable of {@link LOKI_S3_ENV}. */
export const LOKI_S3_SECRET_KEYS = { accessKeyId: 'access-key-id', secretAccessKey: 'secret-access-key' } as const;
/** First day of the v13 schema. Fixed: moving it would hide everything stored before it. */
export const LOKI_SCHEMA_FROM = '2024-01-01';
export const DEFAULT_LOG_RETENTION_DAYS = 31;

export interface LokiOptions {
  /** Logs older than this are deleted by the compactor. Default {@link DEFAULT_LOG_RETENTION_DAYS}. */
  retentionDays?: number;
}

/** `loki.yaml`, for `loki -config.file=… -config.expand-env=true`. */
export function lokiConfig(spec: PlatformSpec, opts: LokiOptions = {}): ConfigFiles {
  const retentionDays = opts.retentionDays ?? DEFAULT_LOG_RETENTION_DAYS;
  if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new RangeError(`Loki retentionDays must be a whole number ≥ 1, not ${retentionDays}`);
  const { s3Endpoint, bucket, region } = spec.kubernetes.logs;
  const endpoint = new URL(s3Endpoint);
  const config = {
    target: 'all',
    auth_enabled: false,
    // HTTP on loopback: deletes, flushes and the ingester's shutdown are reached only through the gateway, which refuses them.
    server: { http_listen_address: '127.0.0.1', http_listen_port: LOKI_LOOPBACK_HTTP_PORT, grpc_listen_port: LOKI_GRPC_PORT, log_level: 'info' },
    common: {
      // One process: the ring lives in memory and Loki reaches itself on loopback, whatever the pod's interfaces are called.
      instance_addr: '127.0.0.1',
      path_prefix: LOKI_DATA_DIR,
      replication_factor: 1,
      ring: { kvstore: { store: 'inmemory' } },
      storage: {
        s3: {
          endpoint: endpoint.host,
          insecure: endpoint.protocol === 'http:',
          s3forcepathstyle: true,
          bucketnames: bucket,
          region,
          access_key_id: `\${${LOKI_S3_ENV.accessKeyId}}`,
          secret_access_key: `\${${LOKI_S3_ENV.secretAccessKey}}`,
        },
      },
    },
    schema_config: {
      configs: [{ from: LOKI_SCHEMA_FROM, store: 'tsdb', object_store: 's3', schema: 'v13', index: { prefix: 'index_', period: '24h' } }],
    },
    storage_config: {
      tsdb_shipper: { active_index_directory: `${LOKI_DATA_DIR}/tsdb-index`, cache_location: `${LOKI_DATA_DIR}/tsdb-cache` },
    },
    compactor: {
      working_directory: `${LOKI_DATA_DIR}/compactor`,
      compaction_interval: '10m',
      retention_enabled: true,
      retention_delete_delay: '2h',
      delete_request_store: 's3',
    },
    limits_config: {
      retention_period: `${retentionDays * 24}h`,
      // Mail logs arrive in bursts (a flood, a queue flush): the defaults (4 MB/s, 6 MB burst) drop lines.
      ingestion_rate_mb: 16,
      ingestion_burst_size_mb: 32,
    },
    analytics: { reporting_enabled: false },
  };
  return { [LOKI_CONFIG_FILE]: configYaml(config) };
}
