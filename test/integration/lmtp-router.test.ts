import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { ImapFlow } from 'imapflow';
import type { TlsClientOptions } from '../../src/protocol/index.ts';
import { imapFlowTls } from '../support/mail.ts';
import { codes, openLmtp } from '../support/lmtp-client.ts';
import { until } from '../support/poll.ts';
import { DOMAIN, processesMentioning, startPlatform } from '../support/platform.ts';

const POOL = '127.93.0.0/16';
const PASSWORD = 'router-password';

function message(id: string, text: string): string {
  return `Message-ID: <${id}>\r\nFrom: sender@remote.test\r\nSubject: router\r\n\r\n${text}\r\n.\r\n`;
}

async function imapSource(host: string, port: number, user: string, messageId: string, tls: TlsClientOptions): Promise<string | undefined> {
  const client = new ImapFlow({ host, port, auth: { user, pass: PASSWORD }, logger: false, ...imapFlowTls(tls) });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const found = await client.search({ header: { 'message-id': messageId } }, { uid: true });
      const uid = Array.isArray(found) ? found[0] : undefined;
      if (uid === undefined) return undefined;
      const msg = await client.fetchOne(String(uid), { source: true }, { uid: true });
      return msg && msg.source ? msg.source.toString('latin1') : undefined;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => undefined);
  }
}

async function routerMetric(host: string, port: number, name: string, label: string): Promise<number> {
  const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`mailfleet_lmtp_router_${name}{`) && l.includes(label));
  assert.ok(line, `metric ${name} ${label} missing`);
  return Number(line.split(' ').at(-1));
}

test('the LMTP router of the proxy layer, with real daemons', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 20, password: PASSWORD, roles: { mailbox: 2, proxy: 1, mta: 0, msa: 0 } });
  const proxy = await platform.instance('proxy-0');
  const port = proxy.ports.lmtp as number;
  const run = Date.now().toString(36);
  /** The users the first delivery went to. */
  const chosen: string[] = [];
  const user = (n: number): string => `user${n}@${DOMAIN}`;
  const conf = `${platform.stateDir}/instances/proxy-0/config/dovecot.conf`;
  /** The backend the director routes `address` to (detail stripped). */
  const backendOf = (address: string): string => {
    const out = execFileSync('doveadm', ['-c', conf, 'director', 'status', address.replace(/\+[^@]*/, '')], { encoding: 'utf8' });
    const found = /^(?:Current|Hashed):\s*(\d+\.\d+\.\d+\.\d+)/m.exec(out)?.[1];
    assert.ok(found, `director lookup of ${address} named no backend: ${out}`);
    return found;
  };

  await t.test('GIVEN users on both backends WHEN one pipelined transaction names them, an unknown user and a +detail address THEN each recipient gets its own reply, in order', async () => {
    // Two users of each backend, as the director places them.
    const byBackend = new Map<string, string[]>();
    for (let n = 1; n <= 20; n++) byBackend.set(backendOf(user(n)), [...(byBackend.get(backendOf(user(n))) ?? []), user(n)]);
    assert.equal(byBackend.size, 2, 'the director should place the 20 users on both backends');
    const [a = [], b = []] = [...byBackend.values()];
    chosen.push(a[0] as string, b[0] as string, a[1] as string, b[1] as string);
    const rcpts = [...chosen, `nobody@${DOMAIN}`, (a[2] as string).replace('@', '+lists@')];
    chosen.push(a[2] as string);
    const id = `pipelined-${run}@client.test`;
    const client = await openLmtp(proxy.address, port);
    t.after(() => client.close());
    const envelope = await client.send(['LHLO mta.test', 'MAIL FROM:<sender@remote.test> BODY=8BITMIME', ...rcpts.map((r) => `RCPT TO:<${r}>`), 'DATA'].map((l) => `${l}\r\n`).join(''), 9);
    assert.deepEqual(codes(envelope), ['250', '250', '250', '250', '250', '250', '550', '250', '354']);
    assert.match(envelope[6] ?? '', /^550 5\.1\.1 <nobody@example\.com>/);
    const final = await client.send(message(id, 'hello\r\n..a line that starts with a dot\r\nend'), 5);
    const accepted = rcpts.filter((r) => !r.startsWith('nobody'));
    final.forEach((reply, i) => assert.match(reply, new RegExp(`^250 2\\.0\\.0 <${(accepted[i] as string).replace('+', '\\+')}> .*Saved`)));
    const backends = new Set(accepted.map(backendOf));
    assert.equal(backends.size, 2, `the recipients should live on both backends: ${[...backends].join(' ')}`);
  });

  await t.test('THEN each stored copy is the message as sent, dot-unstuffed, in the right mailbox', async () => {
    const id = `pipelined-${run}@client.test`;
    assert.equal(chosen.length, 5);
    for (const u of chosen) {
      const source = await imapSource(proxy.address, proxy.ports.imap as number, u, id, platform.clientTls('starttls'));
      assert.ok(source, `${u} has no copy`);
      assert.match(source, /\r\nhello\r\n\.a line that starts with a dot\r\nend\r\n$/);
    }
  });

  await t.test('WHEN a client breaks the protocol THEN each line gets the protocol\'s answer and the session goes on', async () => {
    const client = await openLmtp(proxy.address, port);
    t.after(() => client.close());
    const replies = await client.send([
      `MAIL FROM:<a@remote.test>`, 'EHLO x', 'LHLO x', `RCPT TO:<${user(1)}>`, 'DATA', 'MAIL FROM:<a@remote.test> SIZE=10',
      'MAIL FROM:<a@remote.test>', 'MAIL FROM:<b@remote.test>', 'DATA', `RCPT TO:<${user(1)}> NOTIFY=NEVER`, `NOOP ${'x'.repeat(5000)}`,
      'BDAT 5 LAST', 'VRFY x', 'RSET', 'NOOP',
    ].map((l) => `${l}\r\n`).join(''), 15);
    assert.deepEqual(codes(replies), ['503', '500', '250', '503', '503', '555', '250', '503', '554', '555', '500', '500', '252', '250', '250']);
  });

  await t.test('WHEN twenty messages go over one session THEN the backend connections are opened once and reused', async () => {
    const opened = await routerMetric(proxy.address, proxy.ports.http as number, 'backend_connections_total', 'event="opened"');
    const reused = await routerMetric(proxy.address, proxy.ports.http as number, 'backend_connections_total', 'event="reused"');
    const client = await openLmtp(proxy.address, port);
    t.after(() => client.close());
    await client.send('LHLO mta.test\r\n', 1);
    for (let i = 0; i < 20; i++) {
      const r = await client.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${user(6)}>\r\nDATA\r\n`, 3);
      assert.deepEqual(codes(r), ['250', '250', '354']);
      assert.deepEqual(codes(await client.send(message(`reuse-${i}-${run}@client.test`, 'again'), 1)), ['250']);
    }
    assert.ok(await routerMetric(proxy.address, proxy.ports.http as number, 'backend_connections_total', 'event="opened"') - opened <= 1);
    assert.ok(await routerMetric(proxy.address, proxy.ports.http as number, 'backend_connections_total', 'event="reused"') - reused >= 19);
  });

  await t.test('WHEN twenty sessions deliver to one backend at once THEN at most six transactions run there together and the rest wait, none refused', async () => {
    const who = user(8);
    const backend = backendOf(who);
    const http = proxy.ports.http as number;
    const queued = await routerMetric(proxy.address, http, 'backend_queued_total', 'instance=');
    const clients = await Promise.all(Array.from({ length: 20 }, () => openLmtp(proxy.address, port)));
    t.after(() => clients.forEach((c) => c.close()));
    await Promise.all(clients.map((c) => c.send('LHLO mta.test\r\n', 1)));
    const finals = await Promise.all(clients.map(async (c, i) => {
      assert.deepEqual(codes(await c.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${who}>\r\nDATA\r\n`, 3)), ['250', '250', '354']);
      return (await c.send(message(`burst-${i}-${run}@client.test`, 'burst'), 1))[0] ?? '';
    }));
    assert.deepEqual(finals.filter((r) => !r.startsWith('250 ')), []);
    assert.ok(await routerMetric(proxy.address, http, 'backend_queued_total', 'instance=') > queued, 'no transaction waited for a slot');
    const open = execFileSync('ss', ['-Htn', 'state', 'established', 'dst', `${backend}:24`, 'src', proxy.address], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    assert.ok(open.length <= 6, `${open.length} connections to ${backend}`);
  });

  await t.test('WHEN the backend of a user is killed THEN deliveries are deferred with 4xx, never refused, until another backend takes the user', async () => {
    const lookup = await openLmtp(proxy.address, port);
    t.after(() => lookup.close());
    const who = user(7);
    const address = backendOf(who);
    const victim = (await platform.status()).find((i) => i.role === 'mailbox' && i.address === address);
    assert.ok(victim, `no mailbox at ${address}`);
    const master = processesMentioning(`${platform.stateDir}/instances/${victim.name}/config/dovecot.conf`).find((pid) => {
      try {
        return execFileSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).trim() === '/usr/sbin/dovecot';
      } catch {
        return false;
      }
    });
    assert.ok(master, `no dovecot master for ${victim.name}`);
    process.kill(master, 'SIGKILL');
    await lookup.send('LHLO mta.test\r\n', 1);
    const seen: string[] = [];
    await until(`a delivery to ${who} after its backend was killed`, async () => {
      const envelope = await lookup.send(`MAIL FROM:<s@remote.test>\r\nRCPT TO:<${who}>\r\nDATA\r\n`, 3);
      if (envelope[2]?.startsWith('354') !== true) {
        seen.push(envelope[1] ?? '');
        await lookup.send('RSET\r\n', 1);
        return undefined;
      }
      const [final = ''] = await lookup.send(message(`after-kill-${seen.length}-${run}@client.test`, 'kill'), 1);
      seen.push(final);
      return final.startsWith('250') ? final : undefined;
    }, 90_000, 300);
    assert.deepEqual(seen.filter((r) => !/^(250|4\d\d) /.test(r)), [], `replies: ${JSON.stringify(seen)}`);
  });
});
