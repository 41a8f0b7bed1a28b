/**
 * Loki's config. Debian has no Grafana Loki (its `loki` package is an unrelated genetics program), so
 * the YAML is parsed back and the settings that matter are asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { LOKI_CONFIG_FILE, LOKI_S3_ENV, lokiConfig, type LokiOptions } from '../../src/config/index.ts';
import type { PlatformSpec } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

function specWith(logs: string): PlatformSpec {
  return testSpec(`kubernetes: { logs: ${logs} }`);
}

const spec = specWith('{ s3Endpoint: "http://minio.storage.svc:9000", bucket: mail-logs, region: eu-west-1 }');

/** The parts of loki.yaml the tests read. */
interface Yaml {
  target: string;
  auth_enabled: boolean;
  server: { http_listen_address: string; http_listen_port: number };
  common: {
    replication_factor: number;
    ring: unknown;
    storage: { s3: { endpoint: string; insecure: boolean; s3forcepathstyle: boolean; bucketnames: string; region: string; access_key_id: string; secret_access_key: string } };
  };
  schema_config: { configs: unknown[] };
  storage_config: { tsdb_shipper: { active_index_directory: string } };
  compactor: { retention_enabled: boolean; delete_request_store: string };
  limits_config: { retention_period: string };
}

function text(s = spec, opts?: LokiOptions): string {
  return lokiConfig(s, opts)[LOKI_CONFIG_FILE] ?? '';
}

function render(s = spec, opts?: LokiOptions): Yaml {
  return parse(text(s, opts)) as Yaml;
}

test('GIVEN a spec WHEN rendered THEN Loki runs as one process with its ring in memory, no auth of its own, and HTTP on loopback only (the gateway is its way in)', () => {
  const config = render();
  assert.equal(config.target, 'all');
  assert.equal(config.auth_enabled, false);
  assert.equal(config.common.replication_factor, 1);
  assert.deepEqual(config.common.ring, { kvstore: { store: 'inmemory' } });
  assert.equal(config.server.http_listen_address, '127.0.0.1');
  assert.equal(config.server.http_listen_port, 3101);
});

test('GIVEN an http S3 endpoint WHEN rendered THEN chunks and index go to that bucket, path-style, without TLS', () => {
  const { s3 } = render().common.storage;
  assert.deepEqual(
    { endpoint: s3.endpoint, insecure: s3.insecure, s3forcepathstyle: s3.s3forcepathstyle, bucketnames: s3.bucketnames, region: s3.region },
    { endpoint: 'minio.storage.svc:9000', insecure: true, s3forcepathstyle: true, bucketnames: 'mail-logs', region: 'eu-west-1' },
  );
});

test('GIVEN an https S3 endpoint WHEN rendered THEN TLS is used', () => {
  const { s3 } = render(specWith('{ s3Endpoint: "https://s3.example.net" }')).common.storage;
  assert.equal(s3.endpoint, 's3.example.net');
  assert.equal(s3.insecure, false);
});

test('GIVEN S3 credentials WHEN rendered THEN only environment references are written, and nothing else for -config.expand-env to expand', () => {
  const { s3 } = render().common.storage;
  assert.equal(s3.access_key_id, `\${${LOKI_S3_ENV.accessKeyId}}`);
  assert.equal(s3.secret_access_key, `\${${LOKI_S3_ENV.secretAccessKey}}`);
  assert.deepEqual(text().match(/\$\{?[A-Za-z0-9_]*\}?/g), ['${S3_ACCESS_KEY_ID}', '${S3_SECRET_ACCESS_KEY}']);
});

test('GIVEN a spec WHEN rendered THEN the schema is TSDB v13 on S3 with a daily index', () => {
  const config = render();
  assert.deepEqual(config.schema_config.configs, [{ from: '2024-01-01', store: 'tsdb', object_store: 's3', schema: 'v13', index: { prefix: 'index_', period: '24h' } }]);
  assert.ok(config.storage_config.tsdb_shipper.active_index_directory);
});

test('GIVEN a retention WHEN rendered THEN the compactor deletes older logs, its delete requests kept on S3', () => {
  const config = render(spec, { retentionDays: 90 });
  assert.equal(config.limits_config.retention_period, '2160h');
  assert.equal(config.compactor.retention_enabled, true);
  assert.equal(config.compactor.delete_request_store, 's3');
  assert.equal(render().limits_config.retention_period, '744h');
  assert.throws(() => lokiConfig(spec, { retentionDays: 0 }), RangeError);
});

test('GIVEN the same input WHEN rendered twice THEN the bytes are the same', () => {
  assert.equal(text(), text());
});
