import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIGURE_QUERIES, parseRoleVector } from '../../../src/runtime/local/figures.ts';

const vector = (result: unknown) => JSON.stringify({ status: 'success', data: { resultType: 'vector', result } });

test('GIVEN a vector summed by role WHEN parsed THEN each role has its value', () => {
  const got = parseRoleVector(vector([
    { metric: { role: 'mta' }, value: [1767000000.5, '12'] },
    { metric: { role: 'proxy' }, value: [1767000000.5, '0.25'] },
  ]));
  assert.deepEqual(got && Object.fromEntries(got), { mta: 12, proxy: 0.25 });
});

test('GIVEN an empty vector WHEN parsed THEN no role has a figure (status shows -)', () => {
  assert.equal(parseRoleVector(vector([]))?.size, 0);
});

test('GIVEN samples with no usable value or role WHEN parsed THEN those are left out and the rest kept', () => {
  const got = parseRoleVector(vector([
    { metric: { role: 'mta' }, value: [1, 'NaN'] },
    { metric: { role: 'msa' }, value: [1, '+Inf'] },
    { metric: { role: 'kvs' }, value: [1, ''] },
    { metric: { role: 'ldap' }, value: [1, 7] },
    { metric: {}, value: [1, '3'] },
    { metric: { role: '' }, value: [1, '3'] },
    { metric: { role: 'a b' }, value: [1, '3'] },
    { metric: { role: 'x'.repeat(65) }, value: [1, '3'] },
    { metric: { role: '\u001b[31m' }, value: [1, '3'] },
    { metric: { role: 'proxy' }, value: [1, '3', 'extra'] },
    null,
    'noise',
    { metric: { role: 'mailbox' }, value: [1, '4'] },
  ]));
  assert.deepEqual(got && Object.fromEntries(got), { mailbox: 4 });
});

test('GIVEN answers that are not a success vector WHEN parsed THEN there is no figure, and nothing throws', () => {
  const hostile = [
    '',
    '{',
    'null',
    '[]',
    '"success"',
    JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }),
    JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }),
    JSON.stringify({ status: 'success', data: { resultType: 'vector', result: {} } }),
    JSON.stringify({ status: 'success', data: null }),
    vector([{ metric: { role: 'mta' }, value: [1, '5'] }]).slice(0, 40),
    Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]).toString('latin1'),
    Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]).toString('utf8'),
    `{"status":"success","data":{"resultType":"vector","result":[${'['.repeat(5000)}`,
    'x'.repeat(1_000_000),
  ];
  for (const text of hostile) assert.equal(parseRoleVector(text), undefined, JSON.stringify(text.slice(0, 60)));
});

test('GIVEN a role name with invalid UTF-8 in the answer WHEN parsed THEN it is left out', () => {
  const text = Buffer.concat([Buffer.from('{"status":"success","data":{"resultType":"vector","result":[{"metric":{"role":"m'), Buffer.from([0xff]), Buffer.from('"},"value":[1,"2"]}]}}')]).toString('utf8');
  assert.equal(parseRoleVector(text)?.size, 0);
});

test('GIVEN the figure queries WHEN read THEN each sums by role, so one answer has one sample per role', () => {
  for (const [name, q] of Object.entries(FIGURE_QUERIES)) assert.match(q, /^(sum|count) by \(role\)/, name);
});
