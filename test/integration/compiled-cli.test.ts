import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI_MAIN } from '../support/build.ts';
import { REPO, startPlatform } from '../support/platform.ts';

const POOL = '127.145.0.0/16';
/** What bin/mailfleet gives an agent's Node.js (see the launcher), besides glibc's trim threshold. */
const AGENT_V8_FLAGS = ['--max-semi-space-size=1', '--no-opt', '--no-maglev'];

/** A process's argv as /proc shows it. */
function argv(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
}

test('GIVEN a running platform WHEN its processes are read from /proc THEN the runtime and every agent run Node.js on the compiled CLI, not the TypeScript sources, the agents started through bin/mailfleet as a pod is', async (t) => {
  const env = { ...process.env };
  delete env.MAILFLEET_AGENT_V8_FLAGS;
  delete env.MALLOC_TRIM_THRESHOLD_;
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 1, roles: { ldap: 1, kvs: 1, mailbox: 0, proxy: 0, mta: 0, msa: 0 }, env });
  const runtimePid = platform.runtime.pid;
  assert.ok(runtimePid !== undefined);
  assert.deepEqual(argv(runtimePid).slice(0, 3), [process.execPath, CLI_MAIN, 'up']);

  const instances = await platform.status();
  assert.deepEqual(instances.map((i) => i.name), ['ldap-0', 'kvs-0']);
  for (const i of instances) {
    assert.ok(i.pid !== null, `${i.name} has a pid`);
    const args = argv(i.pid);
    assert.deepEqual(args.slice(0, 7), [join(REPO, 'node_modules', '.bin', 'node'), ...AGENT_V8_FLAGS, CLI_MAIN, 'agent', '--role'], i.name);
    assert.equal(args[7], i.role);
    const environ = readFileSync(`/proc/${i.pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes('MALLOC_TRIM_THRESHOLD_=131072'), `${i.name}: glibc gives freed memory back`);
  }
  for (const pid of platform.leftovers()) {
    const args = argv(pid);
    assert.ok(!args.some((a) => a.endsWith('.ts')), `pid ${pid} runs a TypeScript file: ${args.join(' ')}`);
  }
});
