/**
 * Two proxies form one director ring. When one comes back on a new address (killed and restarted, as a
 * rescheduled pod does), the directors still know only each other's old address and the ring would
 * split; the backend-sync controller must join the new address and drop the old one on every director.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { until } from '../support/poll.ts';
import { doveadm, startPlatform, type Platform } from '../support/platform.ts';

const run = promisify(execFile);
const POOL = '127.89.0.0/16';
const RESYNC_SECONDS = 3;

/** Each proxy's ring: director addresses it lists, and whether it says the ring is synced. */
async function rings(p: Platform): Promise<Map<string, { known: string[]; synced: boolean }>> {
  const out = new Map<string, { known: string[]; synced: boolean }>();
  for (const proxy of (await p.status()).filter((i) => i.role === 'proxy' && i.ready)) {
    const rows = await doveadm(proxy.address, proxy.ports.doveadm as number, 'directorRingStatus');
    out.set(proxy.address, {
      known: [...new Set(rows.map((r) => r['director ip'] as string))].sort(),
      synced: rows.some((r) => r.type === 'self' && r.status === 'ring synced') && rows.filter((r) => r.type !== 'self').every((r) => r.status === 'synced'),
    });
  }
  return out;
}

/** True when every ready proxy lists exactly the ready proxies and reports a synced ring. */
async function whole(p: Platform): Promise<string[] | undefined> {
  const addresses = (await p.status()).filter((i) => i.role === 'proxy' && i.ready).map((i) => i.address).sort();
  const views = await rings(p);
  if (views.size !== 2) return undefined;
  for (const view of views.values()) if (view.known.join() !== addresses.join() || !view.synced) return undefined;
  return addresses;
}

test('director ring with two proxies', { timeout: 10 * 60_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    roles: { mta: 0, msa: 0, proxy: 2, mailbox: 1, ldap: 1, kvs: 1 },
    accounts: 2,
    director: { resyncSeconds: RESYNC_SECONDS },
  });

  await t.test('GIVEN a fresh platform THEN both directors list both proxies and the ring is synced', async () => {
    const members = await until('one synced ring', () => whole(platform), 30_000);
    assert.equal(members.length, 2);
  });

  await t.test('WHEN proxy-1 is killed and comes back on a new address THEN every director lists the new address, not the old one, and the ring is synced again', async () => {
    const before = await platform.instance('proxy-1');
    const pid = await run('pgrep', ['-f', `dovecot -F -c ${join(platform.stateDir, 'instances', 'proxy-1', 'config')}/dovecot.conf`]);
    process.kill(Number(pid.stdout.trim().split('\n')[0]), 'SIGKILL');
    const after = await until('proxy-1 back on a new address', async () => {
      const i = await platform.instance('proxy-1');
      return i.ready && i.address !== before.address ? i : undefined;
    }, 60_000);
    const members = await until('the ring whole again', () => whole(platform), 30_000);
    assert.ok(members.includes(after.address) && !members.includes(before.address), `ring: ${members.join(', ')}`);
    const views = await rings(platform);
    for (const [proxy, view] of views) assert.ok(!view.known.includes(before.address), `${proxy} still lists ${before.address}`);
  });
});
