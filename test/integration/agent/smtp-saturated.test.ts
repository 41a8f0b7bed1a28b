/**
 * Clients that hold every smtpd process of a public port (slowloris: connect, read the greeting, send nothing,
 * 45 connections from each of five addresses, under the per-client limit of 50) must not make the agent call a
 * working Postfix hung. Its readiness dialogue talks to the health-check smtpd, which has processes of its own:
 * `/livez` and `/readyz` stay 200 past `hungSeconds`, and the runtime restarts nothing. Before, the dialogue went
 * to the public port, `/livez` failed once `hungSeconds` passed, and the instance was restarted again and again.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startPlatform, type InstanceStatus } from '../../support/platform.ts';

const POOL = '127.132.0.0/16';
/** The held connections come from these addresses, none of them an instance's. */
const SOURCES = ['127.133.0.1', '127.133.0.2', '127.133.0.3', '127.133.0.4', '127.133.0.5'];
/** Per source: under the mta's smtpd_client_connection_count_limit (50); all together above its 200 processes. */
const PER_SOURCE = 45;
const HUNG_SECONDS = 3;
/** How long the port stays held while the agent is watched: well past hungSeconds. */
const HELD_MS = (HUNG_SECONDS + 5) * 1000;
/**
 * How long each held connection may wait for its greeting. The master starts the 200 smtpd processes one by one; on a
 * busy host that takes several seconds, and a newcomer dialled before the last of them starts would still be greeted.
 */
const GREETING_WAIT_MS = 15_000;

/**
 * Opens a connection and resolves with it once a whole greeting came (its last line `220 …`: the mta's postscreen
 * sends `220-` at once and the rest only when an smtpd takes the client), or after `waitMs` with whether one did.
 */
function dial(host: string, port: number, localAddress: string, waitMs: number): Promise<{ socket: Socket; greeted: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, localAddress });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => resolve({ socket, greeted: false }), waitMs);
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const done = /^220 .*\r\n/m.test(text) || /^(?!220)\d{3} /m.test(text);
      if (!done) return;
      clearTimeout(timer);
      socket.off('data', onData);
      resolve({ socket, greeted: /^220 /m.test(text) });
    };
    socket.on('data', onData);
  });
}

async function health(instance: InstanceStatus, path: string): Promise<number> {
  try {
    return (await fetch(`http://${instance.address}:${instance.ports.http}${path}`, { signal: AbortSignal.timeout(3000) })).status;
  } catch {
    return 0;
  }
}

test('GIVEN an mta and an msa whose public port has every smtpd held by idle clients WHEN the agent checks its daemon THEN it stays live and ready and nothing restarts', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 1, roles: { mailbox: 1, proxy: 1, mta: 1, msa: 1 }, extra: { hungSeconds: HUNG_SECONDS } });
  for (const [name, port] of [['mta-0', 'smtp'], ['msa-0', 'submission']] as const) {
    await t.test(`${name}: its ${port} port held`, async () => {
      const before = await platform.instance(name);
      const target = before.ports[port] as number;
      const held: Socket[] = [];
      try {
        const opened = await Promise.all(SOURCES.flatMap((source) => Array.from({ length: PER_SOURCE }, () => dial(before.address, target, source, GREETING_WAIT_MS))));
        held.push(...opened.map((o) => o.socket));
        // The port is full: a newcomer gets no (whole) greeting while the others hold their processes. A few of the
        // batch may have been turned away by postscreen's own queue limit rather than hold an smtpd, so newcomers
        // that are still greeted are kept as holders too, up to a handful.
        let greeted = opened.filter((o) => o.greeted).length;
        let full = false;
        for (let extra = 0; extra < 10 && !full; extra++) {
          const late = await dial(before.address, target, '127.133.0.9', 3000);
          held.push(late.socket);
          if (late.greeted) greeted++;
          else full = true;
        }
        assert.ok(full, `${port} still greeted newcomers: ${greeted} connections greeted, the port was not full`);
        // Liveness never fails (that is what restarts); readiness may miss a beat while 200 smtpd processes start
        // beside the health check's two, but not stay down.
        const started = Date.now();
        const ready: boolean[] = [];
        while (Date.now() - started < HELD_MS) {
          assert.equal(await health(before, '/livez'), 200, `/livez after ${Date.now() - started} ms held`);
          ready.push((await health(before, '/readyz')) === 200);
          await delay(500);
        }
        assert.ok(ready.filter(Boolean).length >= ready.length * 0.8, `/readyz 200 in ${ready.filter(Boolean).length} of ${ready.length} probes`);
        assert.equal(await health(before, '/readyz'), 200, '/readyz at the end of the hold');
        const after = await platform.instance(name);
        assert.equal(after.address, before.address, 'the instance was not restarted (a restart takes a new address)');
      } finally {
        for (const s of held) s.destroy();
      }
      // Once they let go, the port greets again.
      const fresh = await (async () => {
        for (let i = 0; i < 20; i++) {
          const { socket, greeted } = await dial(before.address, target, '127.133.0.10', 2000);
          socket.destroy();
          if (greeted) return true;
          await delay(500);
        }
        return false;
      })();
      assert.ok(fresh, `${port} greets again once the clients are gone`);
    });
  }
});
