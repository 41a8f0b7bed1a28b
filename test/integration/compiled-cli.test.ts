import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLI_MAIN } from '../support/build.ts';
import { startPlatform } from '../support/platform.ts';

const POOL = '127.95.0.0/16';

/** A process's argv as /proc shows it. */
function argv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

test('GIVEN a running platform WHEN its processes are read from /proc THEN the runtime and every agent run Node.js on the compiled CLI, not the TypeScript sources', async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 1, roles: { ldap: 1, kvs: 1, mailbox: 0, proxy: 0, mta: 0, msa: 0 } });
  const runtimePid = platform.runtime.pid;
  assert.ok(runtimePid !== undefined);
  assert.deepEqual(argv(runtimePid).slice(0, 3), [process.execPath, CLI_MAIN, 'up']);

  const instances = await platform.status();
  assert.deepEqual(instances.map((i) => i.name), ['ldap-0', 'kvs-0']);
  for (const i of instances) {
    assert.ok(i.pid !== null, `${i.name} has a pid`);
    assert.deepEqual(argv(i.pid).slice(0, 5), [process.execPath, CLI_MAIN, 'agent', '--role', i.role], i.name);
  }
  for (const pid of platform.leftovers()) {
    const args = argv(pid);
    assert.ok(!args.some((a) => a.endsWith('.ts')), `pid ${pid} runs a TypeScript file: ${args.join(' ')}`);
  }
});
