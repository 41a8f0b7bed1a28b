import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lokiRoute } from '../../src/logs/index.ts';

test('GIVEN pushes and reads WHEN judged THEN they pass', () => {
  for (const [method, path] of [
    ['POST', '/loki/api/v1/push'],
    ['GET', '/loki/api/v1/query'],
    ['GET', '/loki/api/v1/query_range'],
    ['POST', '/loki/api/v1/query_range'],
    ['GET', '/loki/api/v1/labels'],
    ['GET', '/loki/api/v1/label/role/values'],
    ['GET', '/loki/api/v1/series'],
    ['POST', '/loki/api/v1/series'],
    ['GET', '/loki/api/v1/index/stats'],
    ['GET', '/loki/api/v1/status/buildinfo'],
    ['GET', '/ready'],
    ['GET', '/metrics'],
  ] as const) assert.deepEqual(lokiRoute(method, path), { pass: true }, `${method} ${path}`);
});

test('GIVEN what deletes logs, stops or reconfigures Loki WHEN judged THEN it is refused, whatever the method', () => {
  for (const path of ['/loki/api/v1/delete', '/flush', '/ingester/shutdown', '/ingester/prepare_shutdown', '/config', '/services', '/ring', '/compactor/ring',
    '/loki/api/v1/tail', '/api/prom/push', '/distributor/ring', '/memberlist', '/log_level', '/']) {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
      const v = lokiRoute(method, path);
      assert.equal(v.pass, false, `${method} ${path}`);
    }
  }
});

test('GIVEN a path Loki or its router could decode or clean into another endpoint WHEN judged THEN it is refused', () => {
  for (const path of ['/loki/api/v1/%64elete', '/loki/api/v1/./delete', '/loki/api/v1/push/../delete', '/loki/api/v1//delete', '/loki//api/v1/query',
    '/loki/api/v1/query/', '/loki/api/v1\\delete', '//flush', '/loki/api/v1/label/a%2Fb/values', '', 'loki/api/v1/query', '/loki/api/v1/query\u0000']) {
    assert.deepEqual(lokiRoute('GET', path), { pass: false, status: 403, reason: 'path not allowed' }, JSON.stringify(path));
  }
});

test('GIVEN the right path with the wrong method WHEN judged THEN 405', () => {
  assert.equal((lokiRoute('GET', '/loki/api/v1/push') as { status: number }).status, 405);
  assert.equal((lokiRoute('DELETE', '/loki/api/v1/query') as { status: number }).status, 405);
  assert.equal((lokiRoute('POST', '/loki/api/v1/labels') as { status: number }).status, 405);
  assert.equal((lokiRoute('POST', '/ready') as { status: number }).status, 405);
});
