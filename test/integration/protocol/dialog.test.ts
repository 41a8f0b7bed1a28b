/** What every dialog client shares: connecting, timeouts, abort, socket clean-up, hostile byte streams. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { smtpEhlo, tcpConnect } from '../../../src/protocol/index.ts';
import { closedPort, startFakeServer, type Script } from './fake-server.ts';

const TEST = { timeout: 10_000 };
const SHORT_TIMEOUT_MS = 50;
const SILENT: Script = () => {};

test('GIVEN a listening port WHEN tcpConnect runs THEN it resolves ok with the address', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  const result = await tcpConnect({ host: server.host, port: server.port });
  assert.deepEqual({ ok: result.ok, detail: result.detail }, { ok: true, detail: { address: `127.0.0.1:${server.port}` } });
});

test('GIVEN a listening port WHEN tcpConnect runs THEN it reports a non-negative latency', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  const result = await tcpConnect({ host: server.host, port: server.port });
  assert.ok(Number.isFinite(result.latencyMs) && result.latencyMs >= 0);
});

test('GIVEN tcpConnect succeeded WHEN the server looks THEN the connection is closed', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  await tcpConnect({ host: server.host, port: server.port });
  await (await server.firstPeer).closed;
});

test('GIVEN a port nobody listens on WHEN tcpConnect runs THEN it rejects with PROTOCOL_CONNECT_FAILED', TEST, async () => {
  const port = await closedPort();
  await assert.rejects(tcpConnect({ host: '127.0.0.1', port }), { code: 'PROTOCOL_CONNECT_FAILED', step: 'connect' });
});

test('GIVEN a silent server WHEN smtpEhlo runs THEN it rejects with PROTOCOL_TIMEOUT at the banner', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port, timeoutMs: SHORT_TIMEOUT_MS }), {
    code: 'PROTOCOL_TIMEOUT',
    step: 'banner',
  });
});

test('GIVEN a silent server WHEN the client times out THEN the server sees the connection closed', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  await smtpEhlo({ host: server.host, port: server.port, timeoutMs: SHORT_TIMEOUT_MS }).catch(() => {});
  await (await server.firstPeer).closed;
});

test('GIVEN a dialog waiting for the banner WHEN the signal aborts THEN it rejects with PROTOCOL_ABORTED', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  const controller = new AbortController();
  const dialog = smtpEhlo({ host: server.host, port: server.port, signal: controller.signal });
  await server.firstPeer;
  controller.abort();
  await assert.rejects(dialog, { code: 'PROTOCOL_ABORTED' });
});

test('GIVEN a dialog waiting for the banner WHEN the signal aborts THEN the server sees the connection closed', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  const controller = new AbortController();
  const dialog = smtpEhlo({ host: server.host, port: server.port, signal: controller.signal }).catch(() => {});
  const peer = await server.firstPeer;
  controller.abort();
  await dialog;
  await peer.closed;
});

test('GIVEN an aborted signal WHEN a client starts THEN it rejects with PROTOCOL_ABORTED at connect', TEST, async (t) => {
  const server = await startFakeServer(t, SILENT);
  const signal = AbortSignal.abort();
  await assert.rejects(tcpConnect({ host: server.host, port: server.port, signal }), {
    code: 'PROTOCOL_ABORTED',
    step: 'connect',
  });
});

test('GIVEN a port out of range WHEN a client starts THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async () => {
  await assert.rejects(tcpConnect({ host: '127.0.0.1', port: 70_000 }), { code: 'PROTOCOL_INVALID_OPTION' });
});

test('GIVEN a zero timeout WHEN a client starts THEN it rejects with PROTOCOL_INVALID_OPTION', TEST, async () => {
  await assert.rejects(tcpConnect({ host: '127.0.0.1', port: 25, timeoutMs: 0 }), { code: 'PROTOCOL_INVALID_OPTION' });
});

test('GIVEN a server sending an endless line WHEN smtpEhlo runs THEN it rejects with PROTOCOL_LINE_TOO_LONG', TEST, async (t) => {
  const server = await startFakeServer(t, (peer) => peer.send(`220 ${'x'.repeat(10_000)}`));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_LINE_TOO_LONG', step: 'banner' });
});

test('GIVEN a server flooding continuation lines WHEN smtpEhlo runs THEN it rejects with PROTOCOL_REPLY_TOO_LONG', TEST, async (t) => {
  const server = await startFakeServer(t, (peer) => peer.send('220-x\r\n'.repeat(500)));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_REPLY_TOO_LONG', step: 'banner' });
});

test('GIVEN binary noise instead of a banner WHEN smtpEhlo runs THEN it rejects with PROTOCOL_MALFORMED_REPLY', TEST, async (t) => {
  const server = await startFakeServer(t, (peer) => peer.send('\u0000\u00ff\u00fe\u0016\u0003\u0001\r\n'));
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_MALFORMED_REPLY', step: 'banner' });
});

test('GIVEN a server that closes in the middle of a line WHEN smtpEhlo runs THEN it rejects with PROTOCOL_CONNECTION_CLOSED', TEST, async (t) => {
  const server = await startFakeServer(t, (peer) => {
    peer.send('220 half a line');
    peer.end();
  });
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), {
    code: 'PROTOCOL_CONNECTION_CLOSED',
    step: 'banner',
    reply: '220 half a line',
  });
});

test('GIVEN a server that resets the connection after EHLO WHEN smtpEhlo runs THEN it rejects with PROTOCOL_CONNECTION_CLOSED', TEST, async (t) => {
  const server = await startFakeServer(t, async (peer) => {
    peer.send('220 mx ESMTP\r\n');
    await peer.nextLine();
    peer.reset();
  });
  await assert.rejects(smtpEhlo({ host: server.host, port: server.port }), { code: 'PROTOCOL_CONNECTION_CLOSED', step: 'ehlo' });
});
