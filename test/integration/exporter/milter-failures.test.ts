/**
 * Milter failures on a real Postfix 3.7: a milter port that refuses connections, a milter that accepts and
 * never answers (the command timeout), one that answers garbage (a protocol error), and the same refused port
 * with milter_default_action = tempfail. Postfix's own log lines go through the exporter; each failure is
 * counted with its stage and reason. Addresses from 127.126.1.0/24.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { createPostfixExporter } from '../../../src/exporter/index.ts';
import { openSmtpSession } from '../../../src/protocol/index.ts';
import { series } from '../../exporter/series.ts';
import { BASE_MAIN_CF, BASE_MASTER_CF, startPostfix } from './bare-postfix.ts';

const HOST = '127.126.1.1';
const REFUSED = '127.126.1.2:11332';
const SILENT = '127.126.1.3:11332';
const GARBAGE = '127.126.1.4:11332';

/** A TCP server on `address` that does `onSocket` with each connection; closed after the test. */
async function listen(t: { after: (fn: () => Promise<void>) => void }, address: string, onSocket: (s: Socket) => void): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    onSocket(s);
  });
  const [host = '', port = ''] = address.split(':');
  await new Promise<void>((resolve) => server.listen(Number(port), host, resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
}

const MAIN_CF = `${BASE_MAIN_CF}relay_domains = ok.test
transport_maps = inline:{ ok.test=discard: }
milter_protocol = 6
milter_default_action = accept
milter_connect_timeout = 2s
milter_command_timeout = 2s
milter_content_timeout = 2s
notify_classes =
`;

const MASTER_CF = `
${HOST}:25 inet n - n - - smtpd -o smtpd_milters=inet:${REFUSED}
${HOST}:26 inet n - n - - smtpd -o smtpd_milters=inet:${SILENT}
${HOST}:27 inet n - n - - smtpd -o smtpd_milters=inet:${GARBAGE}
${HOST}:28 inet n - n - - smtpd -o smtpd_milters=inet:${REFUSED} -o milter_default_action=tempfail
discard unix - - n - - discard
${BASE_MASTER_CF}`;

async function send(port: number): Promise<number[]> {
  const session = await openSmtpSession({ host: HOST, port, heloName: 'client.test', timeoutMs: 20_000 });
  try {
    const r = await session.send({ from: 'a@client.test', to: ['x@ok.test'], data: 'Subject: x\r\n\r\nbody\r\n' });
    return [r.mail.code, ...r.rcpt.map((x) => x.code), ...(r.data ? [r.data.code] : [])];
  } finally {
    await session.quit().catch(() => undefined);
  }
}

test('milter failures of a real Postfix, counted by stage and reason', { timeout: 120_000 }, async (t) => {
  await listen(t, SILENT, () => undefined);
  await listen(t, GARBAGE, (s) => s.once('data', () => s.write(Buffer.from([0, 0, 0, 5, 0x5a, 1, 2, 3, 4]))));
  const postfix = await startPostfix(t, { mainCf: MAIN_CF, masterCf: MASTER_CF });
  const codes = { refused: await send(25), silent: await send(26), garbage: await send(27), closed: await send(28) };
  // Failing open: the message is accepted as if there were no milter. Failing closed: 4xx from the first command.
  assert.deepEqual(codes, { refused: [250, 250, 250], silent: [250, 250, 250], garbage: [250, 250, 250], closed: [451] });
  const registry = new Registry();
  const exporter = createPostfixExporter({ registry });
  for (const line of readFileSync(postfix.logFile, 'latin1').split('\n')) if (line !== '') exporter.line(line);
  assert.deepEqual(await series(registry, 'mailfleet_postfix_milter_failures_total'), {
    '{stage="connect",reason="refused"}': 2,
    '{stage="connect",reason="timeout"}': 1,
    '{stage="connect",reason="protocol"}': 1,
  });
  // The tempfail itself is smtpd's milter-reject of each command, counted with the rejects.
  assert.equal((await series(registry, 'mailfleet_postfix_smtpd_rejects_total'))['{stage="CONNECT",code="451"}'], 1);
  // Every milter warning was understood (the handshake's follow-up line included).
  assert.equal((await series(registry, 'mailfleet_postfix_log_lines_unsupported_total'))['{service="smtpd",level="warning"}'], undefined);
});
