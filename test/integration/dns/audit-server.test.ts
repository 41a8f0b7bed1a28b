import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { startAuditServer, type AuditServer } from '../../../src/dns/audit-server.ts';
import { createFrameReader, frame } from '../../../src/dns/tcp-frames.ts';
import { buildQuery, parseResponse, QTYPE, RCODE, type DnsAnswerSummary } from '../../../src/dns/wire.ts';
import { isMailfleetError } from '../../../src/errors.ts';

const HOST = '127.53.2.1';
const REPLY_DEADLINE_MS = 5_000;

async function server(t: TestContext): Promise<AuditServer> {
  const s = await startAuditServer({ host: HOST, port: 0, existing: ['mx.example.co.jp'] });
  t.after(() => s.close());
  return s;
}

function udpClient(t: TestContext): UdpSocket {
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  return socket;
}

async function udpExchange(socket: UdpSocket, s: AuditServer, packet: Uint8Array): Promise<DnsAnswerSummary | undefined> {
  const reply = once(socket, 'message', { signal: AbortSignal.timeout(REPLY_DEADLINE_MS) });
  socket.send(packet, s.port, s.host);
  const [message] = (await reply) as [Buffer];
  return parseResponse(message);
}

async function tcpClient(t: TestContext, s: AuditServer): Promise<{ socket: Socket; next: (count: number) => Promise<(DnsAnswerSummary | undefined)[]> }> {
  const socket = connect(s.port, s.host);
  t.after(() => socket.destroy());
  await once(socket, 'connect', { signal: AbortSignal.timeout(REPLY_DEADLINE_MS) });
  const reader = createFrameReader();
  const received: Uint8Array[] = [];
  socket.on('data', (chunk: Buffer) => received.push(...reader.push(chunk)));
  async function next(count: number): Promise<(DnsAnswerSummary | undefined)[]> {
    const signal = AbortSignal.timeout(REPLY_DEADLINE_MS);
    // The collecting listener above runs before this one, so `received` is current when it fires.
    while (received.length < count) await once(socket, 'data', { signal });
    return received.splice(0, count).map(parseResponse);
  }
  return { socket, next };
}

test('GIVEN the counting server WHEN queried over UDP THEN existing names get loopback addresses, others NXDOMAIN, and every query is recorded', async (t) => {
  const s = await server(t);
  const client = udpClient(t);
  assert.deepEqual(await udpExchange(client, s, buildQuery(1, 'mx.example.co.jp', QTYPE.A)), { id: 1, rcode: RCODE.NOERROR, addresses: ['127.0.0.1'] });
  assert.deepEqual(await udpExchange(client, s, buildQuery(2, 'MX.Example.CO.JP.', QTYPE.AAAA)), { id: 2, rcode: RCODE.NOERROR, addresses: ['::1'] });
  assert.deepEqual(await udpExchange(client, s, buildQuery(3, 'mx.example.co.jp.cluster.local', QTYPE.A)), { id: 3, rcode: RCODE.NXDOMAIN, addresses: [] });
  assert.deepEqual(await udpExchange(client, s, buildQuery(4, 'mx.example.co.jp', QTYPE.MX)), { id: 4, rcode: RCODE.NOERROR, addresses: [] });
  assert.deepEqual(s.queries(), [
    { name: 'mx.example.co.jp.', type: 'A', transport: 'udp' },
    { name: 'MX.Example.CO.JP.', type: 'AAAA', transport: 'udp' },
    { name: 'mx.example.co.jp.cluster.local.', type: 'A', transport: 'udp' },
    { name: 'mx.example.co.jp.', type: 'MX', transport: 'udp' },
  ]);
});

test('GIVEN the counting server WHEN a real DNS client (c-ares) resolves through it THEN it gets the same answers', async (t) => {
  const s = await server(t);
  const resolver = new Resolver({ timeout: REPLY_DEADLINE_MS, tries: 1 });
  resolver.setServers([`${s.host}:${s.port}`]);
  assert.deepEqual(await resolver.resolve4('mx.example.co.jp'), ['127.0.0.1']);
  assert.deepEqual(await resolver.resolve6('mx.example.co.jp'), ['::1']);
  await assert.rejects(resolver.resolve4('mx.example.co.jp.svc.cluster.local'), { code: 'ENOTFOUND' });
  assert.deepEqual(s.queries().map((q) => `${q.type} ${q.name}`), ['A mx.example.co.jp.', 'AAAA mx.example.co.jp.', 'A mx.example.co.jp.svc.cluster.local.']);
});

test('GIVEN TXT records for a name WHEN node:dns asks for them THEN it gets each record as its strings, and the name has no address', async (t) => {
  const strings = ['v=DKIM1; k=rsa; p=' + 'A'.repeat(237), 'B'.repeat(100)];
  const s = await startAuditServer({ host: '127.123.0.53', port: 0, existing: [], txt: { 'MF1._domainkey.Example.com.': [strings] } });
  t.after(() => s.close());
  const resolver = new Resolver({ timeout: REPLY_DEADLINE_MS, tries: 1 });
  resolver.setServers([`${s.host}:${s.port}`]);
  assert.deepEqual(await resolver.resolveTxt('mf1._domainkey.example.com'), [strings]);
  await assert.rejects(resolver.resolve4('mf1._domainkey.example.com'), { code: 'ENODATA' });
  await assert.rejects(resolver.resolveTxt('mf2._domainkey.example.com'), { code: 'ENOTFOUND' });
  assert.deepEqual(s.queries().map((q) => `${q.type} ${q.name}`), ['TXT mf1._domainkey.example.com.', 'A mf1._domainkey.example.com.', 'TXT mf2._domainkey.example.com.']);
});

test('GIVEN hostile datagrams WHEN sent THEN short ones are dropped, bad ones get FORMERR, and the server keeps answering', async (t) => {
  const s = await server(t);
  const client = udpClient(t);
  client.send(Uint8Array.of(1, 2, 3), s.port, s.host);
  // The next reply on this socket must be the FORMERR for the loop: the 3-byte packet got none.
  const loop = Uint8Array.of(0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0xc0, 12, 0, 1, 0, 1);
  assert.deepEqual(await udpExchange(client, s, loop), { id: 0xabcd, rcode: RCODE.FORMERR, addresses: [] });
  assert.deepEqual(await udpExchange(client, s, buildQuery(7, 'mx.example.co.jp', QTYPE.A)), { id: 7, rcode: RCODE.NOERROR, addresses: ['127.0.0.1'] });
  assert.equal(s.malformed(), 2);
  assert.equal(s.queries().length, 1);
});

test('GIVEN one TCP connection WHEN two queries arrive in one write THEN both are answered in order', async (t) => {
  const s = await server(t);
  const { socket, next } = await tcpClient(t, s);
  socket.write(Buffer.concat([frame(buildQuery(1, 'mx.example.co.jp', QTYPE.A)), frame(buildQuery(2, 'mx.example.co.jp', QTYPE.AAAA))]));
  assert.deepEqual(await next(2), [
    { id: 1, rcode: RCODE.NOERROR, addresses: ['127.0.0.1'] },
    { id: 2, rcode: RCODE.NOERROR, addresses: ['::1'] },
  ]);
  assert.deepEqual(s.queries().map((q) => q.transport), ['tcp', 'tcp']);
});

test('GIVEN a TCP query sent one byte at a time after a garbage frame WHEN read THEN FORMERR, then the answer', async (t) => {
  const s = await server(t);
  const { socket, next } = await tcpClient(t, s);
  const garbage = Uint8Array.of(0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40);
  for (const byte of Buffer.concat([frame(garbage), frame(buildQuery(3, 'nowhere.example', QTYPE.A))])) socket.write(Uint8Array.of(byte));
  assert.deepEqual(await next(2), [
    { id: 9, rcode: RCODE.FORMERR, addresses: [] },
    { id: 3, rcode: RCODE.NXDOMAIN, addresses: [] },
  ]);
});

test('GIVEN an open TCP connection WHEN the server closes THEN the connection is dropped and close resolves', async (t) => {
  const s = await server(t);
  const { socket } = await tcpClient(t, s);
  const closed = once(socket, 'close', { signal: AbortSignal.timeout(REPLY_DEADLINE_MS) });
  await s.close();
  await closed;
  await s.close();
});

test('GIVEN no port WHEN the server starts as root THEN it owns port 53, and a second one on the same address is refused', async (t) => {
  const s = await startAuditServer({ host: '127.53.2.2', existing: [] });
  t.after(() => s.close());
  assert.equal(s.port, 53);
  await assert.rejects(startAuditServer({ host: '127.53.2.2', existing: [] }), (err) => isMailfleetError(err, 'DNS_AUDIT_FAILED') && /in use/.test(err.message));
});

test('GIVEN a non-loopback address WHEN the server starts THEN it refuses', async () => {
  await assert.rejects(startAuditServer({ host: '192.0.2.2', port: 0, existing: [] }), (err) => isMailfleetError(err, 'DNS_AUDIT_FAILED'));
});
