/**
 * `status` asks VictoriaMetrics for its figures with a short deadline: a VictoriaMetrics that hangs, answers
 * errors or floods gives `-` everywhere and says why, within the deadline; status never fails for it.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { MAX_ANSWER_BYTES, roleFigures } from '../../../../src/runtime/local/figures.ts';

const HOST = '127.148.250.1';

async function fakeVictoriaMetrics(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  server.listen(0, HOST);
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://${HOST}:${(server.address() as AddressInfo).port}`;
}

async function pollUntilClosed(closed: readonly boolean[], count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (closed.length < count) {
    assert.ok(Date.now() < deadline, `only ${closed.length} of ${count} answers were closed`);
    await delay(50);
  }
}

const empty = { scrapedUp: null, scrapeTargets: null, queueMessages: null, deliveriesPerMinute: null, probeLatencySeconds: null };

test('GIVEN a VictoriaMetrics that never answers WHEN figures are asked THEN they come back empty within the deadline, saying why', async (t) => {
  const url = await fakeVictoriaMetrics(t, () => undefined);
  const started = Date.now();
  const report = await roleFigures(url, ['mta'], 300);
  const tookMs = Date.now() - started;
  assert.deepEqual(report.roles, [{ role: 'mta', ...empty }]);
  assert.match(report.error ?? '', /did not answer within 300 ms/);
  t.diagnostic(`returned after ${tookMs} ms`);
});

test('GIVEN a VictoriaMetrics that answers more than a per-role sum could be WHEN figures are asked THEN the answer is refused unread', async (t) => {
  const FLOOD = 64 * MAX_ANSWER_BYTES;
  const finished: boolean[] = [];
  const url = await fakeVictoriaMetrics(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    const more = () => {
      while (written < FLOOD) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    res.once('close', () => finished.push(written >= FLOOD));
    more();
  });
  const report = await roleFigures(url, ['mta'], 5000);
  assert.deepEqual(report.roles, [{ role: 'mta', ...empty }]);
  assert.match(report.error ?? '', /larger than/);
  await pollUntilClosed(finished, 5);
  assert.deepEqual(finished, [false, false, false, false, false], 'every reader hung up before the server was done');
});

test('GIVEN a VictoriaMetrics answering some queries and failing others WHEN figures are asked THEN the answered figures show and no error is reported', async (t) => {
  const url = await fakeVictoriaMetrics(t, (req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
    if (q === 'count by (role) (up)') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { role: 'mta' }, value: [1, '2'] }, { metric: { role: 'probe' }, value: [1, '1'] }] } }));
    } else res.writeHead(422, { 'content-type': 'application/json' }).end('{"status":"error"}');
  });
  const report = await roleFigures(url, ['mta', 'msa'], 5000);
  assert.equal(report.error, undefined);
  assert.deepEqual(report.roles, [
    { role: 'mta', ...empty, scrapeTargets: 2 },
    { role: 'msa', ...empty },
    { role: 'probe', ...empty, scrapeTargets: 1 },
  ]);
});
