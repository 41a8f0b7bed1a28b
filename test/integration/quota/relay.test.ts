/**
 * The quota relay against scripted backends on loopback: it passes on a backend's DUNNO and 5xx, keeps its backend
 * connections, and answers DUNNO within its deadline (counted as fail-open) whatever the backend or the director
 * does: silence, a closed connection, garbage, a temporary answer, a lookup that fails. Clients that break the policy
 * protocol are hung up on without a reply.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import type { BackendLookup, LookupResult } from '../../../src/lmtp/index.ts';
import { Registry } from '../../../src/metrics/index.ts';
import { HEADROOM_BYTES, startQuotaRelay } from '../../../src/quota/index.ts';
import { capturedLogger } from '../../support/log-lines.ts';

const RELAY_HOST = '127.139.0.1';
const DEADLINE_MS = 300;
/** Scheduling slack on a loaded 2-core machine: what is checked is an answer at the deadline, not at Postfix's timeout. */
const SLACK_MS = 700;
let nextBackend = 10;

/** How a scripted backend answers each request it reads. */
type Script = (request: string, socket: Socket, n: number) => void;

interface Backend {
  host: string;
  port: number;
  /** Requests it read, and connections it took. */
  requests: string[];
  connections: number;
}

/** A scripted quota-status on its own loopback address; stopped after the test. */
async function startBackend(t: TestContext, script: Script): Promise<Backend> {
  const host = `127.139.1.${nextBackend++}`;
  const backend: Backend = { host, port: 0, requests: [], connections: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    backend.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const request = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        backend.requests.push(request);
        script(request, socket, backend.requests.length);
      }
    });
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  server.listen(0, host);
  await once(server, 'listening');
  backend.port = (server.address() as { port: number }).port;
  return backend;
}

const answer = (action: string): Script => (_r, socket) => void socket.write(`action=${action}\n\n`);

/** A director that names `host` for every user, or answers `result`. */
function lookupOf(result: LookupResult | ((user: string) => Promise<LookupResult>)): BackendLookup & { users: string[] } {
  const users: string[] = [];
  return {
    users,
    lookup(user) {
      users.push(user);
      return typeof result === 'function' ? result(user) : Promise.resolve(result);
    },
    close() {},
  };
}

async function startRelay(t: TestContext, backendPort: number, lookup: BackendLookup, log = pino({ level: 'silent' })) {
  const registry = new Registry();
  const relay = await startQuotaRelay({ host: RELAY_HOST, port: 0, lookup, backendPort, deadlineMs: DEADLINE_MS, log, registry });
  t.after(() => relay.close(0));
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const found = registry.getSingleMetric(name);
    assert.ok(found, `no metric ${name}`);
    const { values } = await found.get();
    return values.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l))?.value ?? 0;
  };
  return { relay, metric };
}

interface Client {
  ask(attributes: Record<string, string>): Promise<string>;
  /** Sends raw bytes; resolves with everything the relay sent until it closed. */
  raw(bytes: string): Promise<string>;
}

async function openClient(t: TestContext, port: number): Promise<Client> {
  const socket = createConnection({ host: RELAY_HOST, port });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  let buffer = '';
  const waiting: ((action: string) => void)[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end !== -1 && waiting.length > 0; end = buffer.indexOf('\n\n')) {
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      waiting.shift()?.(reply.replace(/^action=/, ''));
    }
  });
  return {
    ask(attributes) {
      const reply = new Promise<string>((resolve) => waiting.push(resolve));
      socket.write(`request=smtpd_access_policy\n${Object.entries(attributes).map(([k, v]) => `${k}=${v}\n`).join('')}\n`);
      return reply;
    },
    async raw(bytes) {
      socket.write(bytes);
      await closed;
      return buffer;
    },
  };
}

const RCPT = { protocol_state: 'RCPT', recipient: 'full+tag@example.com', size: '30000', client_address: '192.0.2.1' };

test('GIVEN a backend that says the mailbox is full WHEN asked twice THEN its 5xx is passed on, for the user without detail, on one kept connection, each time after asking about the headroom first', async (t) => {
  const backend = await startBackend(t, answer('552 5.2.2 Mailbox is full'));
  const lookup = lookupOf({ kind: 'backend', host: backend.host });
  const { relay, metric } = await startRelay(t, backend.port, lookup);
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask(RCPT), '552 5.2.2 Mailbox is full');
  assert.equal(await client.ask(RCPT), '552 5.2.2 Mailbox is full');
  assert.deepEqual(lookup.users, ['full@example.com', 'full@example.com']);
  assert.equal(backend.connections, 1);
  assert.deepEqual(backend.requests[0]?.split('\n'), ['request=smtpd_access_policy', 'protocol_state=RCPT', 'recipient=full@example.com', `size=${30000 + HEADROOM_BYTES}`]);
  assert.deepEqual(backend.requests[1]?.split('\n'), ['request=smtpd_access_policy', 'protocol_state=RCPT', 'recipient=full@example.com', 'size=30000']);
  assert.equal(backend.requests.length, 4, 'a refusal is never remembered');
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'reject' }), 2);
});

test('GIVEN a backend that says it fits WHEN asked THEN DUNNO, counted as dunno', async (t) => {
  const backend = await startBackend(t, answer('DUNNO'));
  const { relay, metric } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }));
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'dunno' }), 1);
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'fail_open' }), 0);
});

test('GIVEN a mailbox with room WHEN asked again within the room it has THEN answered from memory; past the room, after another message took it, or for another user, the backend is asked', async (t) => {
  const backend = await startBackend(t, answer('DUNNO'));
  const { relay, metric } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }));
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(backend.requests.length, 1, 'the second from memory');
  // The room left is the headroom less what went through: a message as large as that is asked about again.
  assert.equal(await client.ask({ ...RCPT, size: String(HEADROOM_BYTES) }), 'DUNNO');
  assert.equal(backend.requests.length, 2);
  assert.equal(await client.ask({ ...RCPT, recipient: 'other@example.com' }), 'DUNNO');
  assert.equal(backend.requests.length, 3);
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'dunno' }), 4);
});

test('GIVEN a mailbox with room for the message but not the headroom WHEN asked THEN DUNNO, and the next question goes to the backend again', async (t) => {
  // quota-status's answer for a mailbox with 50,000 bytes left.
  const backend = await startBackend(t, (request, socket) => {
    const size = Number(/size=([0-9]+)/.exec(request)?.[1] ?? 0);
    socket.write(size <= 50_000 ? 'action=DUNNO\n\n' : 'action=552 5.2.2 Mailbox is full\n\n');
  });
  const { relay } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }));
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(backend.requests.length, 4, 'nothing remembered: the room is less than the headroom');
  assert.equal(await client.ask({ ...RCPT, size: '60000' }), '552 5.2.2 Mailbox is full');
});

test('GIVEN a request without a recipient (another stage) WHEN asked THEN DUNNO without asking the director or a backend', async (t) => {
  const backend = await startBackend(t, answer('552 5.2.2 Mailbox is full'));
  const lookup = lookupOf({ kind: 'backend', host: backend.host });
  const { relay } = await startRelay(t, backend.port, lookup);
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask({ protocol_state: 'DATA', client_address: '192.0.2.1' }), 'DUNNO');
  assert.deepEqual(lookup.users, []);
  assert.equal(backend.connections, 0);
});

/** Each way a backend can fail, and the fail-open reason it is counted under. */
const FAILING: [string, Script, string][] = [
  ['stalls (never answers)', () => {}, 'timeout'],
  ['closes the connection', (_r, socket) => void socket.destroy(), 'closed'],
  ['sends garbage', (_r, socket) => void socket.write('\x00\xff garbage without end'.repeat(100)), 'protocol'],
  ['sends two lines', (_r, socket) => void socket.write('action=DUNNO\nfoo=bar\n\n'), 'protocol'],
  ['answers temporarily (its LDAP down)', answer('DEFER_IF_PERMIT Temporary internal error'), 'backend_error'],
  ['answers OK (Dovecot\'s default, which would skip later restrictions)', answer('OK'), 'backend_error'],
];

for (const [what, script, reason] of FAILING) {
  test(`GIVEN a backend that ${what} WHEN asked THEN DUNNO within the deadline, counted as fail_open (${reason}) and logged once`, async (t) => {
    const backend = await startBackend(t, script);
    const { log, lines } = capturedLogger();
    const { relay, metric } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }), log);
    const client = await openClient(t, relay.port);
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      assert.equal(await client.ask(RCPT), 'DUNNO');
      assert.ok(performance.now() - started < DEADLINE_MS + SLACK_MS, `answered after ${performance.now() - started} ms`);
    }
    assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'fail_open' }), 3);
    assert.ok(await metric('mailfleet_quota_relay_fail_open_total', { reason }) >= 1, `counted as ${reason}`);
    assert.equal(lines().filter((l) => l.msg === 'quota not checked, recipient let through').length, 1, 'three failures, one log line');
  });
}

test('GIVEN no backend listening WHEN asked THEN DUNNO, counted as fail_open (connect)', async (t) => {
  const { relay, metric } = await startRelay(t, 9, lookupOf({ kind: 'backend', host: '127.139.2.1' }));
  const client = await openClient(t, relay.port);
  assert.equal(await client.ask(RCPT), 'DUNNO');
  assert.equal(await metric('mailfleet_quota_relay_fail_open_total', { reason: 'connect' }), 1);
});

test('GIVEN the director lookup fails, or never answers WHEN asked THEN DUNNO within the deadline, counted as fail_open (lookup, deadline)', async (t) => {
  const failing = await startRelay(t, 9, lookupOf({ kind: 'failed', reason: 'director socket: ENOENT' }));
  assert.equal(await (await openClient(t, failing.relay.port)).ask(RCPT), 'DUNNO');
  assert.equal(await failing.metric('mailfleet_quota_relay_fail_open_total', { reason: 'lookup' }), 1);
  const silent = await startRelay(t, 9, lookupOf(() => new Promise(() => {})));
  const started = performance.now();
  assert.equal(await (await openClient(t, silent.relay.port)).ask(RCPT), 'DUNNO');
  assert.ok(performance.now() - started < DEADLINE_MS + SLACK_MS);
  assert.equal(await silent.metric('mailfleet_quota_relay_fail_open_total', { reason: 'deadline' }), 1);
});

test('GIVEN a user the director does not know WHEN asked THEN DUNNO (the MTA refuses unknown users itself), not a failure', async (t) => {
  const { relay, metric } = await startRelay(t, 9, lookupOf({ kind: 'unknown' }));
  assert.equal(await (await openClient(t, relay.port)).ask(RCPT), 'DUNNO');
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'dunno' }), 1);
});

test('GIVEN a backend that closes its connection after each answer WHEN asked again THEN each question goes on a new connection and is answered', async (t) => {
  const backend = await startBackend(t, (_r, socket) => void socket.end('action=552 5.2.2 Mailbox is full\n\n'));
  const { relay, metric } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }));
  const client = await openClient(t, relay.port);
  for (let i = 0; i < 3; i++) assert.equal(await client.ask(RCPT), '552 5.2.2 Mailbox is full');
  // Two questions each (the headroom, then the message alone), each on a connection of its own.
  assert.equal(backend.connections, 6);
  assert.equal(await metric('mailfleet_quota_relay_requests_total', { answer: 'fail_open' }), 0);
});

/** Requests that break the protocol: the relay hangs up without a reply. */
const HOSTILE: [string, string][] = [
  ['an over-long line', `request=smtpd_access_policy\nrecipient=${'a'.repeat(10_000)}\n\n`],
  ['a line without =', 'request=smtpd_access_policy\ngarbage\n\n'],
  ['no request=smtpd_access_policy', 'recipient=a@example.com\n\n'],
  ['a NUL byte', 'request=smtpd_access_policy\nrecipient=a\x00b@example.com\n\n'],
  ['binary noise', '\xff\xfe\x00\x01'.repeat(2000)],
];

for (const [what, bytes] of HOSTILE) {
  test(`GIVEN a client that sends ${what} WHEN the relay reads it THEN it hangs up without a reply, asking nobody`, async (t) => {
    const backend = await startBackend(t, answer('DUNNO'));
    const lookup = lookupOf({ kind: 'backend', host: backend.host });
    const { relay, metric } = await startRelay(t, backend.port, lookup);
    const client = await openClient(t, relay.port);
    assert.equal(await client.raw(bytes), '');
    assert.deepEqual(lookup.users, []);
    assert.equal(await metric('mailfleet_quota_relay_protocol_errors_total'), 1);
  });
}

test('GIVEN two pipelined requests WHEN the relay answers THEN the answers come in order', async (t) => {
  const backend = await startBackend(t, (request, socket) => void setTimeout(() => socket.write(`action=${request.includes('full@') ? '552 5.2.2 Mailbox is full' : 'DUNNO'}\n\n`), request.includes('full@') ? 50 : 0));
  const { relay } = await startRelay(t, backend.port, lookupOf({ kind: 'backend', host: backend.host }));
  const client = await openClient(t, relay.port);
  const replies = await Promise.all([client.ask(RCPT), client.ask({ ...RCPT, recipient: 'room@example.com' })]);
  assert.deepEqual(replies, ['552 5.2.2 Mailbox is full', 'DUNNO']);
});
