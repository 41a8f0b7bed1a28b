/**
 * A Postfix reload while a delivery is in progress, on a real Postfix 3.7: the new qmgr finds the message's
 * queue file still locked by the old generation's lmtp and skips it; once that lmtp has delivered, the file
 * must still go, not wait in `incoming` for the next queue scan (qmgr's 300 s wakeup). Addresses from
 * 127.126.2.0/24.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { reloadPostfix } from '../../../src/agent/postfix-reload.ts';
import { createLogger } from '../../../src/log.ts';
import { openSmtpSession } from '../../../src/protocol/index.ts';
import { until } from '../../support/poll.ts';
import { BASE_MAIN_CF, BASE_MASTER_CF, startPostfix, type BarePostfix } from '../exporter/bare-postfix.ts';

const SMTP = '127.126.2.1';
const LMTP = '127.126.2.2';
const log = createLogger('test', { level: process.env.MAILFLEET_TEST_LOG ?? 'silent' });

const MAIN_CF = `${BASE_MAIN_CF}relay_domains = ok.test
transport_maps = inline:{ ok.test=lmtp:inet:[${LMTP}]:24 }
notify_classes =
`;

const MASTER_CF = `
${SMTP}:25 inet n - n - - smtpd
lmtp unix - - n - - lmtp
${BASE_MASTER_CF}`;

interface HeldLmtp {
  /** Resolves when a message's final dot has arrived (its reply is held). */
  readonly received: Promise<void>;
  /** Sends the held 250 for the message. */
  release(): void;
}

/** An LMTP server that takes one message and holds its final reply until released. */
async function heldLmtp(t: TestContext): Promise<HeldLmtp> {
  const sockets = new Set<Socket>();
  let onReceived = (): void => undefined;
  const received = new Promise<void>((resolve) => (onReceived = resolve));
  let release = (): void => undefined;
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.write('220 lmtp.test LMTP\r\n');
    let pending = '';
    let inData = false;
    let held = false;
    const serve = (): void => {
      let lf: number;
      while (!held && (lf = pending.indexOf('\r\n')) !== -1) {
        const line = pending.slice(0, lf);
        pending = pending.slice(lf + 2);
        if (inData) {
          if (line !== '.') continue;
          // Postfix pipelines its QUIT after the dot: nothing more is answered until the message's reply is out.
          inData = false;
          held = true;
          release = () => {
            s.write('250 2.0.0 stored\r\n');
            held = false;
            serve();
          };
          onReceived();
          continue;
        }
        const verb = line.split(' ')[0]?.toUpperCase();
        if (verb === 'LHLO') s.write('250-lmtp.test\r\n250 PIPELINING\r\n');
        else if (verb === 'DATA') {
          inData = true;
          s.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') s.end('221 bye\r\n');
        else s.write('250 ok\r\n');
      }
    };
    s.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      serve();
    });
  });
  await new Promise<void>((resolve) => server.listen(24, LMTP, resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { received, release: () => release() };
}

async function queued(postfix: BarePostfix): Promise<string[]> {
  const out = await postfix.admin('postqueue', ['-j']);
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => (JSON.parse(l) as { queue_name: string }).queue_name);
}

test('GIVEN a delivery in progress WHEN Postfix reloads THEN its queue file goes once the old lmtp has delivered', { timeout: 120_000 }, async (t) => {
  const lmtp = await heldLmtp(t);
  const postfix = await startPostfix(t, { mainCf: MAIN_CF, masterCf: MASTER_CF });
  const session = await openSmtpSession({ host: SMTP, port: 25, heloName: 'client.test', timeoutMs: 20_000 });
  const sent = await session.send({ from: 'a@client.test', to: ['x@ok.test'], data: 'Subject: held\r\n\r\nbody\r\n' });
  await session.quit();
  assert.equal(sent.data?.code, 250);
  await lmtp.received;

  await reloadPostfix({ configDir: postfix.configDir, masterPid: postfix.pid, log });
  // The new qmgr has met the file while the old lmtp still holds it: the case this test is about.
  await until('the new qmgr to skip the file in delivery', async () => (readFileSync(postfix.logFile, 'latin1').includes('skipped, still being delivered') ? true : undefined), 30_000);
  lmtp.release();

  await until('the delivered message to leave the queue', async () => ((await queued(postfix)).length === 0 ? true : undefined), 30_000, 200);
  assert.match(readFileSync(postfix.logFile, 'latin1'), /status=sent/);
});
