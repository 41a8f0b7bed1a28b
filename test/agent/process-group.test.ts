import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { endProcessGroup } from '../../src/agent/index.ts';
import { statFields } from '../../src/proc.ts';

/** Running, not a zombie waiting for whoever inherited it to reap it. */
function alive(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** A group leader that starts `script`'s background processes, prints their pids (once they are set up) and exits, as a master that left helpers. */
async function orphanedGroup(script: string): Promise<{ pgid: number; members: number[] }> {
  const leader = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  leader.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await once(leader, 'exit');
  const members = out.trim().split(/\s+/).map(Number);
  assert.ok(members.length > 0 && members.every((p) => p > 1 && alive(p)), `members started: ${out}`);
  return { pgid: leader.pid ?? -1, members };
}

test('GIVEN a group whose leader exited and left two processes WHEN ended THEN both are gone and it says something was left', async (t) => {
  const { pgid, members } = await orphanedGroup('sleep 60 & a=$!; sleep 60 & echo $a $!');
  t.after(() => members.forEach((p) => alive(p) && process.kill(p, 'SIGKILL')));
  assert.equal(await endProcessGroup(pgid, 2000), true);
  assert.deepEqual(members.filter(alive), []);
});

test('GIVEN a leftover that ignores SIGTERM WHEN ended THEN it is killed after the grace time', async (t) => {
  const { pgid, members } = await orphanedGroup(`{ sh -c 'trap "" TERM; echo $$; exec sleep 60' & } | head -n 1`);
  t.after(() => members.forEach((p) => alive(p) && process.kill(p, 'SIGKILL')));
  const started = Date.now();
  assert.equal(await endProcessGroup(pgid, 300), true);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(members.filter(alive), []);
  assert.ok(Date.now() - started >= 300, 'waited the grace time first');
});

test('GIVEN a group with nobody left WHEN ended THEN nothing is signalled and it says so', async () => {
  const leader = spawn('true', [], { detached: true, stdio: 'ignore' });
  await once(leader, 'exit');
  assert.equal(await endProcessGroup(leader.pid ?? -1, 500), false);
  assert.equal(await endProcessGroup(1, 500), false, 'never the init group');
});
