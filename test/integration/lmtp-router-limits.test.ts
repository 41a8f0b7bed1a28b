/**
 * The proxy's LMTP router against clients that push it (issue #11): a client that pipelines without reading.
 * Real daemons; the agent's memory is read from /proc.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { openLmtp, type LmtpClient } from '../support/lmtp-client.ts';
import { processesMentioning, startPlatform } from '../support/platform.ts';

const POOL = '127.96.0.0/16';

/** VmHWM (peak) and VmRSS of a process, in MB. */
function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

test('the LMTP router under load it must not buckle under, with real daemons', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 20, roles: { mailbox: 1, proxy: 1, mta: 0, msa: 0 } });
  const proxy = await platform.instance('proxy-0');
  const port = proxy.ports.lmtp as number;
  const agents = processesMentioning(platform.stateDir).filter((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('agent') && argv.includes('proxy-0');
  });
  assert.equal(agents.length, 1, `one agent for proxy-0: ${agents.join(' ')}`);
  const agent = agents[0] as number;
  const clients: LmtpClient[] = [];
  t.after(() => clients.forEach((c) => c.close()));

  await t.test('GIVEN a client that pipelines bad commands and never reads a reply WHEN it sends all it can THEN the router stops reading and its memory stays flat', async () => {
    const client = await openLmtp(proxy.address, port);
    clients.push(client);
    client.socket.pause();
    const before = memoryMb(agent).now;
    const block = Buffer.from('NOOPX\r\n'.repeat(150_000));
    const limit = 64 * 1024 * 1024;
    let sent = 0;
    // Writes until the router has taken `limit` bytes or stops taking any (no drain within 3 s).
    while (sent < limit) {
      sent += block.length;
      if (client.socket.write(block)) continue;
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3000);
        client.socket.once('drain', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!drained) break;
    }
    const grown = memoryMb(agent).now - before;
    t.diagnostic(`the router took ${(sent / 1048576).toFixed(0)} MB of NOOPX lines; agent RSS grew ${grown.toFixed(0)} MB`);
    // What the router takes is what the kernel's socket buffers hold, a few MB on loopback; it then stops reading.
    assert.ok(sent < 32 * 1024 * 1024, `the router read ${sent} bytes from a client that reads nothing`);
    // The replies it did write leave garbage that grows the heap's young generation once, by tens of MB at most.
    assert.ok(grown < 64, `agent RSS grew ${grown.toFixed(0)} MB`);
  });
});
