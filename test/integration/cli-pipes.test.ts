import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform } from '../support/platform.ts';
import { runIntoClosedPipe, runThroughSlowPipe, runToFile } from '../support/pipe.ts';

const POOL = '127.95.0.0/16';
// Enough accounts that `accounts list --json` is several pipe buffers long.
const ACCOUNTS = 2000;

test('commands that read a running platform, piped to a slow reader', async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: ACCOUNTS, roles: { mailbox: 1, proxy: 1, mta: 0, msa: 0, kvs: 0 } });
  const at = ['--state-dir', platform.stateDir];

  await t.test(`GIVEN ${ACCOUNTS} accounts WHEN "accounts list --json" is piped to a slow reader THEN every byte arrives, as when written to a file`, async () => {
    const reference = runToFile(['accounts', 'list', '--json', ...at]);
    assert.equal(reference.code, 0, reference.stderr);
    assert.ok(reference.stdout.length > 2 * 65_536, `the listing is ${reference.stdout.length} bytes`);
    const piped = await runThroughSlowPipe(['accounts', 'list', '--json', ...at]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.length, reference.stdout.length);
    assert.ok(piped.stdout.equals(reference.stdout));
    assert.equal((JSON.parse(piped.stdout.toString('utf8')) as unknown[]).length, ACCOUNTS);
  });

  await t.test('GIVEN the same accounts WHEN "accounts list" (text) is piped to a slow reader THEN every line arrives', async () => {
    const piped = await runThroughSlowPipe(['accounts', 'list', ...at]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.toString('utf8').trimEnd().split('\n').length, ACCOUNTS);
  });

  await t.test('GIVEN a running platform WHEN "status --json" and "status" are piped to a slow reader THEN each is whole', async () => {
    const json = await runThroughSlowPipe(['status', '--json', ...at]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout.toString('utf8')) as { instances: { name: string }[] };
    assert.deepEqual(parsed.instances.map((i) => i.name).sort(), ['ldap-0', 'mailbox-0', 'proxy-0']);
    const text = await runThroughSlowPipe(['status', ...at]);
    assert.equal(text.code, 0, text.stderr);
    for (const name of ['ldap-0', 'mailbox-0', 'proxy-0']) assert.match(text.stdout.toString('utf8'), new RegExp(`\\b${name}\\b`));
  });

  await t.test('GIVEN a reader that takes 100 bytes and closes (| head -c 100) WHEN accounts are listed THEN the command ends quietly', async () => {
    const r = await runIntoClosedPipe(['accounts', 'list', '--json', ...at], 100);
    assert.equal(r.stdout.length, 100);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
  });
});
