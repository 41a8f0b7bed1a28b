/**
 * Rules change without dropping a connection: `server.reload`, and `mailfleet policy` re-reading its rules file on
 * SIGHUP (an invalid file is refused and the rules in force stay). A bad file at start exits 2 naming the field.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { validatePolicyRules } from '../../../src/policy/index.ts';
import { until } from '../../support/poll.ts';
import { freePort, openPolicyClient, policyHost, SKIP, startPolicy, startRedis } from './harness.ts';

const TEST = { timeout: 60_000, skip: SKIP };
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const rcpt = { protocol_state: 'RCPT', client_address: '192.0.2.80', recipient: 'r@example.org' };
const rules = (name: string, limit: number): string => JSON.stringify({ rules: [{ name, key: 'client_address', count: 'recipients', windows: [{ limit, seconds: 3600 }] }] });
const verbs = (replies: string[]): string[] => replies.map((r) => r.split(' ')[0] ?? '');

test('GIVEN an open connection WHEN the rules are reloaded THEN the same connection is judged by the new rules', TEST, async (t) => {
  const redis = await startRedis(t);
  const policy = await startPolicy(t, { host: policyHost(31), redis, rules: JSON.parse(rules('a', 2)) });
  const client = await openPolicyClient(t, policy.host, policy.port);
  assert.deepEqual(verbs(await client.askAll([rcpt, rcpt, rcpt])), ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT']);
  policy.server.reload(validatePolicyRules(JSON.parse(rules('b', 4))));
  assert.deepEqual(verbs(await client.askAll([rcpt, rcpt, rcpt, rcpt, rcpt])), ['DUNNO', 'DUNNO', 'DUNNO', 'DUNNO', 'DEFER_IF_PERMIT']);
  policy.server.reload(validatePolicyRules({}));
  assert.deepEqual(verbs(await client.askAll([rcpt, rcpt])), ['DUNNO', 'DUNNO'], 'no rules: everything passes');
  assert.equal(client.socket.destroyed, false);
});

test('GIVEN mailfleet policy WHEN its rules file changes and it gets SIGHUP THEN open connections keep working under the new rules; a bad file is refused', TEST, async (t) => {
  const redis = await startRedis(t);
  const dir = mkdtempSync(join(tmpdir(), 'policy-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.yaml');
  writeFileSync(file, rules('first', 2));
  const host = policyHost(32);
  const [port, metricsPort] = [await freePort(host), await freePort(host)];
  const child = spawn(process.execPath, [MAIN, 'policy', '--rules', file, '--redis', `${redis.host}:${redis.port}`, '--listen', `${host}:${port}`, '--metrics', `${host}:${metricsPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const metrics = async (): Promise<string> => (await fetch(`http://${host}:${metricsPort}/metrics`)).text();
  await until('the policy server ready with redis', async () => {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
    return /^mailfleet_policy_redis_up 1$/m.test(await metrics()) ? true : undefined;
  }, 20_000, 50);
  assert.equal((await fetch(`http://${host}:${metricsPort}/readyz`)).status, 200);

  const client = await openPolicyClient(t, host, port);
  assert.deepEqual(verbs(await client.askAll([rcpt, rcpt, rcpt])), ['DUNNO', 'DUNNO', 'DEFER_IF_PERMIT']);

  writeFileSync(file, `rules:\n  - name: second\n    key: client_address\n    count: recipients\n    windows: [{ limit: 3, seconds: 3600 }]\n`);
  child.kill('SIGHUP');
  await until('the reload logged', async () => (output.includes('policy rules reloaded') ? true : undefined), 10_000, 20);
  assert.deepEqual(verbs(await client.askAll([rcpt, rcpt, rcpt, rcpt])), ['DUNNO', 'DUNNO', 'DUNNO', 'DEFER_IF_PERMIT']);

  writeFileSync(file, `rules:\n  - name: third\n    key: client_address\n    count: recipients\n    windows: [{ limit: 0, seconds: 3600 }]\n`);
  child.kill('SIGHUP');
  await until('the refusal logged', async () => (output.includes('policy rules not reloaded') ? true : undefined), 10_000, 20);
  assert.match(output, /rules\[0\]\.windows\[0\]\.limit: expected a whole number from 1/);
  assert.deepEqual(verbs(await client.askAll([rcpt])), ['DEFER_IF_PERMIT'], 'the rules in force stay');
  assert.equal(client.socket.destroyed, false, 'one connection throughout');

  // SIGUSR1 opens no inspector (a root process, where connecting to it runs code): it is ignored.
  child.kill('SIGUSR1');
  await delay(500);
  assert.equal(child.exitCode, null, output);
  const inspector = await new Promise<string>((resolve) => connect(9229, '127.0.0.1').once('connect', function (this: Socket) {
    this.destroy();
    resolve('connected');
  }).once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error')));
  assert.equal(inspector, 'ECONNREFUSED', 'nothing listens on the inspector port');
  assert.doesNotMatch(output, /Debugger listening/);
  assert.deepEqual(verbs(await client.askAll([rcpt])), ['DEFER_IF_PERMIT'], 'still judging on the same connection');

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  await client.closed;
});

test('GIVEN a rules file with a bad field WHEN mailfleet policy starts THEN it exits 2 naming the field, before listening', { timeout: 30_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'rules.json');
  writeFileSync(file, JSON.stringify({ rules: [{ name: 'x', key: 'recipient', count: 'messages', windows: [{ limit: 1, seconds: 60 }] }] }));
  const r = spawnSync(process.execPath, [MAIN, 'policy', '--rules', file, '--listen', `${policyHost(33)}:0`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /rules\[0\]\.key: counting messages, a rule can key on client_address, sasl_username, sender, sender_domain only/);
  assert.doesNotMatch(r.stdout, /listening/);
});
