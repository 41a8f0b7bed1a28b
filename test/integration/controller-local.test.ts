/**
 * `mailfleet controller --source local`: the backend-sync controller as its own process against a
 * running single-host platform, reading the runtime's endpoints from the control socket and talking to
 * the real Dovecot director. The runtime's own controller resyncs only hourly here, so a repair within
 * seconds can only come from the standalone one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ensureBuilt } from '../support/build.ts';
import { doveadm, startPlatform, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.162.0.0/16';
/** Far above what the runtime hands out from the pool (it counts up from 127.162.0.1). */
const LISTEN = '127.162.250.1:8081';
const CONTROLLER_RESYNC_SECONDS = 1;
const DEADLINE_MS = 20_000;

async function directorHosts(p: Platform): Promise<string[]> {
  const proxy = await p.instance('proxy-0');
  return (await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorStatus')).map((r) => `${r['mail server ip']} ${r.state}`).sort();
}

async function liveBackends(p: Platform): Promise<string[]> {
  return (await p.status()).filter((i) => i.role === 'mailbox' && i.ready).map((i) => `${i.address} up`).sort();
}

async function metric(line: RegExp): Promise<number | undefined> {
  const res = await fetch(`http://${LISTEN}/metrics`);
  const m = line.exec(await res.text());
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

test('mailfleet controller --source local against a running platform', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 2,
    roles: { mailbox: 2, proxy: 1, mta: 0, msa: 0 },
    director: { resyncSeconds: 3600 },
  });
  let output = '';
  const controller = spawn(process.execPath, [
    ensureBuilt(),
    'controller', '--source', 'local', '--state-dir', platform.stateDir, '--resync', String(CONTROLLER_RESYNC_SECONDS), '--listen', LISTEN,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  controller.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  controller.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((resolve) => controller.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (controller.exitCode === null && controller.signalCode === null) controller.kill('SIGKILL');
    await exited;
  });
  const running = () => {
    if (controller.exitCode !== null) throw new Error(`controller exited with ${controller.exitCode}:\n${output.slice(-4000)}`);
  };

  await t.test('GIVEN a running platform WHEN the controller starts THEN it is ready once it has listed the endpoints and reports the backends up', async () => {
    await until('/readyz 200', async () => {
      running();
      return (await fetch(`http://${LISTEN}/readyz`)).status === 200 ? true : undefined;
    }, DEADLINE_MS);
    const up = await until('both backends up in its metrics', async () => ((await metric(/^mailfleet_backends\{state="up"\} (\d+)$/m)) === 2 ? 2 : undefined), DEADLINE_MS);
    assert.equal(up, 2);
  });

  await t.test('WHEN a backend is removed from the director behind its back THEN the controller adds it again within its own resync', async () => {
    const proxy = await platform.instance('proxy-0');
    const target = await platform.instance('mailbox-0');
    const addsBefore = (await metric(/^mailfleet_backends_steps_total\{op="add"\} (\d+)$/m)) ?? 0;
    await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorRemove', { host: target.address });
    assert.ok(!(await directorHosts(platform)).includes(`${target.address} up`));
    await until('mailbox-0 back in the director', async () => {
      running();
      return (await directorHosts(platform)).join() === (await liveBackends(platform)).join() ? true : undefined;
    }, (CONTROLLER_RESYNC_SECONDS + 5) * 1000);
    assert.ok(((await metric(/^mailfleet_backends_steps_total\{op="add"\} (\d+)$/m)) ?? 0) > addsBefore, 'the add was this controller\'s');
  });

  await t.test('WHEN mailbox scales 2 → 3 THEN the controller follows the endpoint stream and counts the new backend up', async () => {
    const r = platform.cli(['scale', 'mailbox', '3']);
    assert.equal(r.code, 0, r.stderr);
    await until('three backends up in its metrics', async () => {
      running();
      return (await metric(/^mailfleet_backends\{state="up"\} (\d+)$/m)) === 3 ? true : undefined;
    }, DEADLINE_MS);
  });

  await t.test('WHEN it gets SIGTERM THEN it stops with status 0', async () => {
    controller.kill('SIGTERM');
    const code = await Promise.race([exited, delay(DEADLINE_MS, 'timeout', { ref: false })]);
    assert.equal(code, 0, output.slice(-2000));
  });
});
