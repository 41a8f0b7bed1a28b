import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { VMALERT_NOTIFIER_FILE, vmalertNotifierConfig } from '../../src/config/index.ts';

const render = (targets: string[]) => parse(vmalertNotifierConfig(targets)[VMALERT_NOTIFIER_FILE] ?? '') as unknown;

test('GIVEN an Alertmanager WHEN rendered THEN vmalert sends to it', () => {
  assert.deepEqual(render(['127.80.0.4:9093']), { static_configs: [{ targets: ['127.80.0.4:9093'] }] });
});

test('GIVEN no Alertmanager WHEN rendered THEN the notifier list is empty: alerts are evaluated and sent nowhere', () => {
  assert.deepEqual(render([]), { static_configs: [{ targets: [] }] });
});

test('GIVEN a target that is not host:port WHEN rendered THEN it is refused', () => {
  for (const bad of ['127.80.0.4', 'http://127.80.0.4:9093', '127.80.0.4:9093\n- x', '\u0000:1']) assert.throws(() => vmalertNotifierConfig([bad]), RangeError, bad);
});
