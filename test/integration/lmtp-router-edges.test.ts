/**
 * The LMTP router in process, between a test's own director and backends (test/support/lmtp-fakes.ts): what it
 * does when a backend stalls after storing, dies between replies or was let go stale, when clients drip or stop
 * reading, at the size limit, at the session cap, and when it is closed (issue #11).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { startLmtpRouter, type Router, type RouterOptions } from '../../src/lmtp/index.ts';
import { instanceRegistry } from '../../src/metrics/index.ts';
import { codes, dottedMessage, openLmtp, type LmtpClient } from '../support/lmtp-client.ts';
import { startFakeBackends, startFakeDirector, type FakeBackend } from '../support/lmtp-fakes.ts';
import { until } from '../support/poll.ts';

const ROUTER = '127.97.0.1';
const HOSTS = ['127.97.0.2', '127.97.0.3'] as const;
/** The spec's default message_size_limit, as the mta has it. */
const MESSAGE_SIZE_LIMIT = 52_428_800;

interface Harness {
  router: Router;
  port: number;
  backends: FakeBackend[];
  connect(): Promise<LmtpClient>;
  /** The router's gauge of open sessions. */
  openSessions(): Promise<number>;
}

async function freePort(host: string): Promise<number> {
  const server = createServer().listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Users whose name starts with `b` live on the second backend, `stall…` users are never answered, the rest on the first. */
function route(user: string): string | undefined {
  if (user.startsWith('nobody')) return undefined;
  if (user.startsWith('stall')) return 'stall';
  return user.startsWith('b') ? HOSTS[1] : HOSTS[0];
}

async function harness(t: TestContext, tuning: RouterOptions['tuning'] = {}, directorRoute = route): Promise<Harness> {
  const { port: backendPort, backends } = await startFakeBackends(t, HOSTS);
  const director = await startFakeDirector(t, directorRoute);
  const port = await freePort(ROUTER);
  const registry = instanceRegistry('proxy', 't');
  const router = await startLmtpRouter({
    registry,
    host: ROUTER,
    port,
    hostname: 'proxy-test',
    directorSocket: director.socketPath,
    backendPort,
    localAddress: ROUTER,
    log: pino({ level: 'silent' }),
    messageSizeLimit: MESSAGE_SIZE_LIMIT,
    memoryLimitBytes: 1024 ** 3,
    tuning,
  });
  // A router that cannot close must not hang the file: the test that made it so fails on its own.
  t.after(() => Promise.race([router.close(0), delay(3000, undefined, { ref: false })]));
  return {
    router,
    port,
    backends,
    async connect() {
      const c = await openLmtp(ROUTER, port);
      t.after(() => c.close());
      return c;
    },
    async openSessions() {
      const line = (await registry.metrics()).split('\n').find((l) => l.startsWith('mailfleet_lmtp_router_sessions{'));
      return Number(line?.split(' ').at(-1));
    },
  };
}

const body = (text: string): string => `Subject: edge\r\n\r\n${text}\r\n.\r\n`;

/** LHLO, one transaction to `rcpts`, and the final replies. */
async function deliver(c: LmtpClient, rcpts: readonly string[], text = 'hello'): Promise<string[]> {
  const envelope = await c.send(`LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\n${rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`, 3 + rcpts.length);
  assert.deepEqual(codes(envelope), ['250', '250', ...rcpts.map(() => '250'), '354']);
  return c.send(body(text), rcpts.length);
}

test('GIVEN a backend that stores a message, then sits on its final replies past the reply deadline WHEN the router delivers over a pooled connection THEN the message is stored once and the late 250 is passed on', async (t) => {
  const h = await harness(t, { pool: { replyTimeoutMs: 300, dataTimeoutMs: 10_000 } });
  const backend = h.backends[0] as FakeBackend;
  const c = await h.connect();
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'warm-up')), ['250']);
  backend.behaviour.afterStore = () => ({ stallMs: 1500 });
  const final = await deliver(c, ['a1@example.com'], 'stalled');
  assert.equal(backend.stored.filter((m) => m.body.includes('stalled')).length, 1, 'copies stored');
  assert.deepEqual(codes(final), ['250']);
});

test('GIVEN a backend that dies after the first of two final replies WHEN the router delivers THEN the stored recipient gets its 250 and only the other one a 451', async (t) => {
  const h = await harness(t);
  const backend = h.backends[0] as FakeBackend;
  backend.behaviour.afterStore = () => ({ replies: 1, thenClose: true });
  const c = await h.connect();
  const final = await deliver(c, ['a1@example.com', 'a2@example.com']);
  assert.equal(backend.stored.length, 1);
  assert.deepEqual(codes(final), ['250', '451']);
});

/**
 * A delivery that leaves its connection in the pool, then one more on it with the backend closing that
 * connection at MAIL as `how` says: its final replies, copies stored, and backend connections in all.
 */
async function onPooledConnection(t: TestContext, how: 'stale' | 'drop'): Promise<{ final: string[]; stored: number; connections: number }> {
  const h = await harness(t);
  const backend = h.backends[0] as FakeBackend;
  const c = await h.connect();
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'warm-up')), ['250']);
  backend.behaviour.onMail = (connection) => (connection === 1 ? how : 'ok');
  const final = codes(await deliver(c, ['a1@example.com'], `after-${how}`));
  return { final, stored: backend.stored.filter((m) => m.body.includes(`after-${how}`)).length, connections: backend.connections() };
}

test('GIVEN a pooled connection the backend has let go stale WHEN the next transaction starts on it THEN it goes again on a new connection and is stored once', async (t) => {
  assert.deepEqual(await onPooledConnection(t, 'stale'), { final: ['250'], stored: 1, connections: 2 });
});

test('GIVEN a message that comes in one part WHEN the router delivers it over a pooled connection THEN the backend reads MAIL, RCPT and the whole message at once', async (t) => {
  const h = await harness(t);
  const backend = h.backends[0] as FakeBackend;
  const c = await h.connect();
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'warm-up')), ['250']);
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'one part')), ['250']);
  const stored = backend.stored.find((m) => m.body.includes('one part'));
  assert.equal(stored?.connection, 1);
  assert.equal(stored?.reads, 1);
});

test('GIVEN messages the client sends in 4 KiB writes WHEN the router delivers them THEN it gathers them: one of 20 KiB reaches the backend in one read with its envelope, one of 200 KiB in a few', async (t) => {
  const h = await harness(t);
  const backend = h.backends[0] as FakeBackend;
  const c = await h.connect();
  for (const [name, kib] of [['small', 20], ['large', 200]] as const) {
    await c.send(`LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n`, 4);
    const text = `Subject: ${name}\r\n\r\n${`${'y'.repeat(62)}\r\n`.repeat(kib * 16)}`;
    for (let at = 0; at < text.length; at += 4096) {
      c.socket.write(text.slice(at, at + 4096));
      await delay(2);
    }
    assert.deepEqual(codes(await c.send('.\r\n', 1)), ['250']);
  }
  const [small, large] = ['small', 'large'].map((name) => backend.stored.find((m) => m.body.includes(`Subject: ${name}`)));
  assert.equal(small?.reads, 1);
  // 50 writes from the client; about 7 chunks of 32 KiB to the backend.
  assert.ok(large !== undefined && large.body.length > 200 * 1024 && large.reads <= 12, `the large one took ${large?.reads} reads`);
});

test('GIVEN a pooled connection the backend drops right after answering MAIL WHEN a message goes out on it THEN it is not sent again: its recipient gets 451 and nothing is stored', async (t) => {
  // One connection in all: the message was not sent again.
  assert.deepEqual(await onPooledConnection(t, 'drop'), { final: ['451'], stored: 0, connections: 1 });
});

test('GIVEN a backend that refuses one of two recipients and then the only one WHEN each message goes with its envelope THEN each recipient gets its backend\'s reply, only the one taken is stored, and the connection carries both', async (t) => {
  const h = await harness(t);
  const backend = h.backends[0] as FakeBackend;
  backend.behaviour.onRcpt = (r) => (r.startsWith('gone') ? `550 5.1.1 <${r}> User doesn't exist` : undefined);
  const c = await h.connect();
  const mixed = await deliver(c, ['a1@example.com', 'gone@example.com'], 'mixed');
  assert.deepEqual(codes(mixed), ['250', '550']);
  assert.match(mixed[1] ?? '', /User doesn't exist/);
  assert.deepEqual(codes(await deliver(c, ['gone@example.com'], 'nobody')), ['550']);
  assert.deepEqual(codes(await deliver(c, ['a2@example.com'], 'after')), ['250']);
  assert.deepEqual(backend.stored.map((m) => m.recipients), [['a1@example.com'], ['a2@example.com']]);
  assert.equal(backend.connections(), 1);
});

test('GIVEN a backend connection older than the pool\'s age limit WHEN the next message comes THEN it goes on a new connection, as after a reload of the backend, and the old one is not used again', async (t) => {
  const h = await harness(t, { pool: { maxAgeMs: 400 } });
  const backend = h.backends[0] as FakeBackend;
  const c = await h.connect();
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'first')), ['250']);
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'second')), ['250']);
  assert.equal(backend.connections(), 1, 'reused while young');
  await delay(500);
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'third')), ['250']);
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'fourth')), ['250']);
  assert.equal(backend.connections(), 2, 'one new connection, reused in turn');
  assert.deepEqual(backend.stored.map((m) => /first|second|third|fourth/.exec(m.body.toString())?.[0]), ['first', 'second', 'third', 'fourth']);
});

test('GIVEN every slot of a backend held by a stalled transaction WHEN another transaction waits for a slot THEN it gets 451 once the wait deadline passes and nothing of it is stored', async (t) => {
  const h = await harness(t, { pool: { maxActivePerBackend: 1, slotWaitMs: 300, dataTimeoutMs: 60_000 } });
  const backend = h.backends[0] as FakeBackend;
  backend.behaviour.afterStore = () => ({ stallMs: 60_000 });
  const first = await h.connect();
  await first.send(`LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n`, 4);
  first.socket.write(body('holds the slot'));
  await until('the first message stored', async () => (backend.stored.length === 1 ? true : undefined), 5000);
  const second = await h.connect();
  assert.deepEqual(codes(await deliver(second, ['a2@example.com'], 'waits'))[0], '451');
  assert.equal(backend.stored.length, 1);
});

test('GIVEN a message Postfix takes at its message_size_limit, every line a lone dot WHEN it arrives dot-stuffed THEN it is delivered, not refused, and stored exactly', async (t) => {
  const h = await harness(t);
  const { message, wire } = dottedMessage(MESSAGE_SIZE_LIMIT, 3);
  const c = await h.connect();
  await c.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n', 4);
  c.socket.write(wire);
  assert.deepEqual(codes(await c.take(1, 60_000)), ['250']);
  const stored = h.backends[0]?.stored[0];
  assert.ok(stored?.body.equals(message), `stored ${stored?.body.length} bytes, sent ${message.length}`);
});

test('GIVEN a client that drips a command a byte at a time WHEN the command deadline passes THEN it is cut off with 421 although bytes keep coming', async (t) => {
  const h = await harness(t, { session: { commandTimeoutMs: 1000 } });
  const c = await h.connect();
  await c.send('LHLO mta.test\r\n', 1);
  const drip = setInterval(() => c.socket.write('N'), 100);
  t.after(() => clearInterval(drip));
  const [last] = await c.take(1, 5000);
  assert.match(last ?? '', /^421 4\.4\.2 /);
  await c.closed;
});

test('GIVEN a client that floods commands and reads nothing WHEN its session is closed down THEN the socket is destroyed after the grace period', async (t) => {
  const h = await harness(t, { session: { commandTimeoutMs: 500, closeGraceMs: 500 } });
  const c = await h.connect();
  c.socket.pause();
  c.socket.write('NOOPX\r\n'.repeat(600_000));
  assert.equal(await h.openSessions(), 1);
  await until('the session gone', async () => ((await h.openSessions()) === 0 ? true : undefined), 10_000);
});

test('GIVEN the session cap WHEN one more client connects THEN it is told 421 4.3.2 and let go while the others go on', async (t) => {
  const h = await harness(t, { maxSessions: 3 });
  const open = await Promise.all([h.connect(), h.connect(), h.connect()]);
  const extra = await openLmtp(ROUTER, h.port, { greeting: false });
  t.after(() => extra.close());
  assert.match((await extra.take(1))[0] ?? '', /^421 4\.3\.2 /);
  await extra.closed;
  for (const c of open) assert.deepEqual(codes(await c.send('NOOP\r\n', 1)), ['250']);
});

test('GIVEN a message to two backends, one of which stops reading WHEN the client sends it THEN the router reads no further than that backend takes, and both store it whole once it reads again', async (t) => {
  const h = await harness(t);
  const [fast, slow] = h.backends as [FakeBackend, FakeBackend];
  const { message, wire } = dottedMessage(40 * 1024 * 1024);
  const c = await h.connect();
  await c.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nRCPT TO:<b1@example.com>\r\nDATA\r\n', 5);
  const release = slow.hold();
  c.socket.write(wire);
  let last = -1;
  const stalled = await until('the fast backend to stop receiving', async () => {
    const now = fast.received();
    const same = now === last && now > 0;
    last = now;
    return same ? now : undefined;
  }, 20_000, 500);
  t.diagnostic(`the fast backend got ${(stalled / 1048576).toFixed(1)} MB of ${(message.length / 1048576).toFixed(0)} MB while the other read nothing`);
  assert.ok(stalled < 16 * 1024 * 1024);
  release();
  assert.deepEqual(codes(await c.take(2, 60_000)), ['250', '250']);
  for (const b of [fast, slow]) assert.ok(b.stored[0]?.body.equals(message), `${b.host} stored ${b.stored[0]?.body.length} bytes`);
});

test('GIVEN a client that goes away in the middle of its message WHEN the router notices THEN no backend stores it and its slot is free again', async (t) => {
  const h = await harness(t, { pool: { maxActivePerBackend: 1, slotWaitMs: 5000 } });
  const backend = h.backends[0] as FakeBackend;
  const first = await h.connect();
  await first.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n', 4);
  first.socket.write(Buffer.alloc(1024 * 1024, 0x61));
  await until('the first megabyte at the backend', async () => (backend.received() >= 1024 * 1024 ? true : undefined), 5000);
  first.close();
  const second = await h.connect();
  assert.deepEqual(codes(await deliver(second, ['a2@example.com'], 'next')), ['250']);
  assert.deepEqual(backend.stored.map((m) => m.recipients), [['a2@example.com']]);
});

test('GIVEN a message past the size limit WHEN it streams through THEN its backend transaction is given up, nothing is stored, each recipient gets 552 and the session goes on', async (t) => {
  const h = await harness(t, { session: { maxMessageBytes: 100_000 } });
  const c = await h.connect();
  await c.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nRCPT TO:<b1@example.com>\r\nDATA\r\n', 5);
  assert.deepEqual(codes(await c.send(dottedMessage(100_001).wire, 2)), ['552', '552']);
  assert.deepEqual(h.backends.map((b) => b.stored.length), [0, 0]);
  assert.deepEqual(codes(await deliver(c, ['a1@example.com'], 'small')), ['250']);
});

test('GIVEN a session waiting on a stalled backend and an idle client that reads nothing WHEN the router closes with a short budget THEN close returns soon after it and both clients are told 421 and let go', async (t) => {
  const h = await harness(t, { pool: { dataTimeoutMs: 60_000 } });
  const backend = h.backends[0] as FakeBackend;
  backend.behaviour.afterStore = () => ({ stallMs: 60_000 });
  const busy = await h.connect();
  await busy.send(`LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n`, 4);
  busy.socket.write(body('stalled at close'));
  await until('the message stored', async () => (backend.stored.length === 1 ? true : undefined), 5000);
  const idle = await h.connect();
  await idle.send('LHLO mta.test\r\n', 1);
  idle.socket.pause();
  const started = Date.now();
  const closed = await Promise.race([h.router.close(300).then(() => true), delay(5000).then(() => false)]);
  assert.ok(closed, 'close() did not return within 5 s');
  t.diagnostic(`close returned after ${Date.now() - started} ms`);
  assert.match((await busy.take(1, 1000))[0] ?? '', /^421 /);
  idle.socket.resume();
  assert.match((await idle.take(1, 1000))[0] ?? '', /^421 /);
  await Promise.all([busy.closed, idle.closed]);
});

test('GIVEN a director lookup that timed out WHEN the next lookup goes out on a new director connection THEN the old one closing does not fail it', async (t) => {
  const h = await harness(t, { lookupTimeoutMs: 300 });
  const c = await h.connect();
  const replies = await c.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<stall1@example.com>\r\nRCPT TO:<a1@example.com>\r\n', 4);
  assert.deepEqual(codes(replies), ['250', '250', '451', '250']);
});

test('GIVEN a director that closes its connection instead of answering, once WHEN a recipient is looked up THEN the lookup goes again on a new connection and the message is delivered', async (t) => {
  const drops = new Set<string>();
  const h = await harness(t, {}, (user) => {
    if (user.startsWith('flaky') && !drops.has(user)) {
      drops.add(user);
      return 'drop';
    }
    return user.startsWith('always') ? 'drop' : route(user);
  });
  const c = await h.connect();
  assert.deepEqual(codes(await deliver(c, ['flaky1@example.com'], 'after a dropped lookup')), ['250']);
  assert.equal(h.backends[0]?.stored.filter((m) => m.body.includes('after a dropped lookup')).length, 1);
  // A director that drops it again: the recipient gets a 451 (Postfix tries later), not a wait.
  const replies = await c.send('RSET\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<always1@example.com>\r\n', 3);
  assert.deepEqual(codes(replies), ['250', '250', '451']);
});

test('GIVEN a client that pauses in the middle of its message for longer than a backend may stay silent WHEN it goes on THEN the message is delivered: the pause is the client\'s, not the backend\'s', async (t) => {
  const h = await harness(t, { pool: { replyTimeoutMs: 300 } });
  const c = await h.connect();
  await c.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n', 4);
  // More than the router gathers before it opens the backend's transaction (32 KiB).
  const firstHalf = `Subject: pause\r\n\r\n${`${'x'.repeat(70)}\r\n`.repeat(600)}`;
  c.socket.write(firstHalf);
  await until('the first half at the backend', async () => (h.backends[0]?.received() ? true : undefined), 5000);
  // The pause itself is what is tested: over three times the backends' reply timeout.
  await delay(1000);
  assert.deepEqual(codes(await c.send('second half\r\n.\r\n', 1)), ['250']);
  assert.equal(h.backends[0]?.stored[0]?.body.toString(), `${firstHalf}second half\r\n`);
});

test('GIVEN a client that opens a message\'s backend transaction and then drips the rest WHEN it falls below the slot floor THEN it is cut off with 421, nothing is stored and the slot serves the next delivery', async (t) => {
  const h = await harness(t, { session: { slotGraceMs: 300, slotMinBytesPerSecond: 64 * 1024 }, pool: { maxActivePerBackend: 1, slotWaitMs: 5000 } });
  const dripper = await h.connect();
  await dripper.send('LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<a1@example.com>\r\nDATA\r\n', 4);
  // More than the router gathers before it opens the backend's transaction (32 KiB), then a byte every 100 ms.
  dripper.socket.write(`Subject: drip\r\n\r\n${`${'x'.repeat(70)}\r\n`.repeat(600)}`);
  await until('the transaction open at the backend', async () => (h.backends[0]?.received() ? true : undefined), 5000);
  const drip = setInterval(() => dripper.socket.write('y'), 100);
  t.after(() => clearInterval(drip));
  const [last] = await dripper.take(1, 10_000);
  assert.match(last ?? '', /^421 4\.4\.2 .*too slowly/);
  clearInterval(drip);
  const next = await h.connect();
  assert.deepEqual(codes(await deliver(next, ['a2@example.com'], 'after the dripper')), ['250']);
  assert.deepEqual(h.backends[0]?.stored.map((m) => m.recipients), [['a2@example.com']]);
});

test('GIVEN the session cap held by clients that say nothing WHEN an MTA connects THEN the session idle longest makes room and the MTA delivers', async (t) => {
  const h = await harness(t, { maxSessions: 3 });
  const idle = await Promise.all([h.connect(), h.connect(), h.connect()]);
  // Past the 2 s a session must have been idle to be closed for a newcomer.
  await delay(2500);
  const mta = await openLmtp(ROUTER, h.port);
  t.after(() => mta.close());
  assert.deepEqual(codes(await deliver(mta, ['a1@example.com'], 'through the cap')), ['250']);
  const told = await Promise.all(idle.map(async (c) => (await Promise.race([c.closed.then(() => 'closed'), delay(3000, 'open')]))));
  assert.equal(told.filter((x) => x === 'closed').length, 1, `one idle session closed: ${told.join(', ')}`);
});
