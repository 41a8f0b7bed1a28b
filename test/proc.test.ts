import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { descendantGroups } from '../src/proc.ts';

test('GIVEN a process whose child leads a process group of its own WHEN its descendants\' groups are read THEN that group is among them, and the process\'s own is not', async (t) => {
  // A shell of its own group that starts a detached grandchild (setsid: a group of its own), as an agent starts its daemon.
  const parent = spawn('/bin/sh', ['-c', 'setsid sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  t.after(() => {
    try {
      process.kill(-(parent.pid as number), 'SIGKILL');
    } catch {
      // gone
    }
  });
  const grandchild = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  t.after(() => {
    try {
      process.kill(grandchild, 'SIGKILL');
    } catch {
      // gone
    }
  });
  // setsid forks when its caller leads a group: wait for the grandchild to lead one.
  let groups = new Set<number>();
  for (let i = 0; i < 50 && groups.size === 0; i++) {
    groups = descendantGroups(parent.pid as number);
    if (groups.size === 0) await delay(20);
  }
  assert.ok([...groups].length >= 1, 'a descendant group was found');
  assert.equal(groups.has(parent.pid as number), false);
  for (const g of groups) assert.notEqual(g, process.pid);
});
