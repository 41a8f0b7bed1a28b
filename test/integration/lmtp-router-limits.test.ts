/**
 * The proxy's LMTP router against clients that push it (issue #11): concurrent maximum-size messages, more
 * sessions than the cap, a client that pipelines without reading. Real daemons; the agent's memory is read
 * from /proc.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { maxSessions } from '../../src/lmtp/index.ts';
import { quantityValue } from '../../src/spec/index.ts';
import { codes, dottedMessage, openLmtp, type LmtpClient } from '../support/lmtp-client.ts';
import { DOMAIN, processesMentioning, startPlatform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.96.0.0/16';
/** The mta's message_size_limit (the spec's default). */
const MESSAGE_SIZE_LIMIT = 52_428_800;
/** Messages of the maximum size sent at once. */
const CONCURRENT = Number(process.env.LMTP_CONCURRENT ?? 8);
/**
 * How far the agent's peak RSS may rise above its RSS before CONCURRENT maximum-size messages: messages stream
 * through, so this is the sessions' buffers plus the garbage the heap keeps between collections (measured:
 * about 70 MB for 8 and for 16 messages; 850 MB for 8 when each message was held whole, three times over).
 */
const RSS_RISE_BOUND_MB = 128;
/** The proxy pod's memory limit in the test's spec: the session cap is sized from it. */
const POD_MEMORY = '512Mi';

/** VmHWM (peak) and VmRSS of a process, in MB. */
function memoryMb(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

async function routerMetric(host: string, port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`mailfleet_lmtp_router_${name}{`));
  assert.ok(line, `metric ${name} missing`);
  return Number(line.split(' ').at(-1));
}

test('the LMTP router under load it must not buckle under, with real daemons', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 20,
    roles: { mailbox: 1, proxy: 1, mta: 0, msa: 0 },
    extra: { kubernetes: { resources: { proxy: { limits: { memory: POD_MEMORY } } } } },
  });
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
  /** Sessions a subtest closed are counted until the router has let them go: wait for none, so the cap is whole again. */
  const earlierSessionsGone = () => until('the earlier sessions gone', async () => ((await routerMetric(proxy.address, proxy.ports.http as number, 'sessions')) === 0 ? true : undefined), 10_000);

  await t.test(`GIVEN ${CONCURRENT} clients WHEN each sends a maximum-size message of dot-stuffed lines at once THEN all are delivered and the agent's peak RSS rises less than ${RSS_RISE_BOUND_MB} MB`, async () => {
    const { wire } = dottedMessage(MESSAGE_SIZE_LIMIT);
    const before = memoryMb(agent);
    const sessions = await Promise.all(Array.from({ length: CONCURRENT }, () => openLmtp(proxy.address, port)));
    clients.push(...sessions);
    const finals = await Promise.all(sessions.map(async (c, i) => {
      assert.deepEqual(codes(await c.send(`LHLO mta.test\r\nMAIL FROM:<big@remote.test>\r\nRCPT TO:<user${i + 1}@${DOMAIN}>\r\nDATA\r\n`, 4)), ['250', '250', '250', '354']);
      c.socket.write(wire);
      return (await c.take(1, 240_000))[0] ?? '';
    }));
    const after = memoryMb(agent);
    sessions.forEach((c) => c.close());
    t.diagnostic(`agent RSS ${before.now.toFixed(0)} MB before, peak ${after.peak.toFixed(0)} MB (peak before: ${before.peak.toFixed(0)} MB)`);
    assert.deepEqual(finals.filter((r) => !r.startsWith('250 ')), []);
    assert.ok(after.peak - before.now < RSS_RISE_BOUND_MB, `agent RSS ${before.now.toFixed(0)} MB before, peak ${after.peak.toFixed(0)} MB`);
  });

  await t.test(`GIVEN a proxy pod of ${POD_MEMORY} WHEN one more client connects than the session cap sized from it THEN it is told 421 4.3.2 and counted, and the others go on`, async () => {
    const cap = maxSessions(quantityValue(POD_MEMORY));
    const refused = await routerMetric(proxy.address, proxy.ports.http as number, 'sessions_refused_total');
    assert.equal(await routerMetric(proxy.address, proxy.ports.http as number, 'session_limit'), cap);
    await earlierSessionsGone();
    const held = await Promise.all(Array.from({ length: cap }, () => openLmtp(proxy.address, port)));
    clients.push(...held);
    const extra = await openLmtp(proxy.address, port, { greeting: false });
    clients.push(extra);
    assert.match((await extra.take(1))[0] ?? '', /^421 4\.3\.2 /);
    await extra.closed;
    assert.equal(await routerMetric(proxy.address, proxy.ports.http as number, 'sessions_refused_total'), refused + 1);
    assert.deepEqual(codes(await (held[0] as LmtpClient).send('NOOP\r\n', 1)), ['250']);
    held.forEach((c) => c.close());
  });

  await t.test('GIVEN a client that pipelines bad commands and never reads a reply WHEN it sends all it can THEN the router stops reading and its memory stays flat', async () => {
    await earlierSessionsGone();
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
