/**
 * `mailfleet learn spam|ham` (src/cli/learn.ts): rspamd's answers read as learned or not (hostile bodies included),
 * the bounds on stdin and the password file, and the exit codes and stderr Dovecot logs, against an HTTP server
 * on loopback that answers as rspamd's controller does (the integration test in test/integration/filter runs the
 * real one).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { learnVerdict, oneLine, readBounded } from '../../src/cli/learn.ts';
import { ensureBuilt } from '../support/build.ts';

const HOST = '127.129.0.1';

test('GIVEN rspamd\'s answers WHEN read THEN 200 is learned, "already learned" is learned with a note, any other status is not, its reason one clean line', () => {
  const cases: { status: number; body: Buffer; learned: boolean; text?: RegExp }[] = [
    { status: 200, body: Buffer.from('{"success":true}'), learned: true },
    { status: 208, body: Buffer.from('{"error":"<id@x> has been already learned as spam, ignore it"}'), learned: true, text: /already learned as spam/ },
    { status: 404, body: Buffer.from('{"error":"<id@x> has been already learned as ham, ignore it"}'), learned: true, text: /already learned as ham/ },
    { status: 403, body: Buffer.from('{"error":"Unauthorized"}'), learned: false, text: /^rspamd answered 403: Unauthorized$/ },
    { status: 500, body: Buffer.from('{"error":"cannot learn: redis error"}'), learned: false, text: /^rspamd answered 500: cannot learn: redis error$/ },
    { status: 400, body: Buffer.from('{"error":"message has too few tokens"}'), learned: false, text: /too few tokens/ },
    { status: 502, body: Buffer.alloc(0), learned: false, text: /^rspamd answered 502$/ },
    // Binary noise, invalid UTF-8, control characters, an over-long line, a truncated JSON: quoted clean and short.
    { status: 500, body: Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xc3]), learned: false, text: /^rspamd answered 500: [?[31m]+$/ },
    // Over 4 KiB: the JSON is cut, so quoted as text, itself cut to 300 characters.
    { status: 500, body: Buffer.from(`{"error":"${'x'.repeat(100_000)}"}`), learned: false, text: /^rspamd answered 500: \{"error":"x{290}…$/ },
    { status: 500, body: Buffer.from(`{"error":"${'y'.repeat(1000)}"}`), learned: false, text: /^rspamd answered 500: y{300}…$/ },
    { status: 500, body: Buffer.from('{"error":"line one\r\nline two'), learned: false, text: /^rspamd answered 500: \{"error":"line one\?\?line two$/ },
    { status: 500, body: Buffer.from('{"error":42}'), learned: false, text: /^rspamd answered 500: \{"error":42\}$/ },
    { status: 500, body: Buffer.from('null'), learned: false, text: /^rspamd answered 500: null$/ },
    // "already learned" counts only as rspamd's own error, not anywhere in a body.
    { status: 500, body: Buffer.from('<html>already learned</html>'), learned: false },
  ];
  for (const c of cases) {
    const v = learnVerdict(c.status, c.body);
    assert.equal(v.learned, c.learned, `${c.status} ${c.body.subarray(0, 60).toString('utf8')}`);
    const text = v.learned ? v.note ?? '' : v.reason;
    assert.ok(!text.includes('\n') && text.length <= 330, text.slice(0, 80));
    if (c.text) assert.match(text, c.text);
  }
  assert.equal(oneLine('\u0000a\tb\u00ff\ufffd'), '?a?bÿ?');
});

test('GIVEN a message on stdin WHEN read with a bound THEN one within it comes whole, a longer one is read to its end and dropped, a stalled one times out', async () => {
  const feed = (chunks: Buffer[]) => {
    const s = new PassThrough();
    for (const c of chunks) s.write(c);
    s.end();
    return s;
  };
  const never = AbortSignal.timeout(60_000);
  assert.deepEqual(await readBounded(feed([Buffer.from('abc'), Buffer.from('def')]), 6, never), Buffer.from('abcdef'));
  assert.deepEqual(await readBounded(feed([]), 6, never), Buffer.alloc(0));
  const long = feed([Buffer.from('abcd'), Buffer.from('efgh')]);
  assert.equal(await readBounded(long, 6, never), undefined);
  assert.ok(long.readableEnded, 'read to its end');
  const stalled = new PassThrough();
  stalled.write('part');
  await assert.rejects(readBounded(stalled, 100, AbortSignal.timeout(50)), /timed out reading the message/);
});

interface Exit { code: number | null; stderr: string; ms: number }

function runLearn(args: string[], stdin: string): Promise<Exit> {
  const start = Date.now();
  const child = spawn(process.execPath, [ensureBuilt(), 'learn', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr, ms: Date.now() - start })));
}

async function fakeController(t: TestContext, handle: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d)).once('end', () => handle(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://${HOST}:${(server.address() as AddressInfo).port}`;
}

test('GIVEN a controller WHEN mailfleet learn runs THEN it posts the message with the password from the file and exits 0, or 1 naming why not; 2 for a bad command line', async (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-unit-learn-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'the-password\n');
  const seen: { path?: string; password?: string; body: string }[] = [];
  const url = await fakeController(t, (req, body, res) => {
    seen.push({ path: req.url, password: req.headers.password as string, body });
    if (req.headers.password !== 'the-password') return res.writeHead(403).end('{"error":"Unauthorized"}');
    if (body.includes('stall')) return; // never answers
    res.writeHead(200).end('{"success":true}');
  });
  const ok = await runLearn(['spam', '--url', url, '--password-file', passwordFile], 'Subject: hi\r\n\r\nbody\r\n');
  assert.deepEqual([ok.code, ok.stderr], [0, '']);
  assert.deepEqual(seen.at(-1), { path: '/learnspam', password: 'the-password', body: 'Subject: hi\r\n\r\nbody\r\n' });
  const ham = await runLearn(['ham', '--url', `${url}/`, '--password-file', passwordFile], 'x');
  assert.deepEqual([ham.code, seen.at(-1)?.path], [0, '/learnham']);

  writeFileSync(join(dir, 'wrong'), 'wrong-password\n');
  const refused = await runLearn(['spam', '--url', url, '--password-file', join(dir, 'wrong')], 'x');
  assert.deepEqual([refused.code, refused.stderr], [1, 'mailfleet learn spam: not learned: rspamd answered 403: Unauthorized\n']);

  const posts = seen.length;
  const tooLarge = await runLearn(['spam', '--url', url, '--password-file', passwordFile, '--max-bytes', '10'], 'x'.repeat(100_000));
  assert.deepEqual([tooLarge.code, tooLarge.stderr], [1, 'mailfleet learn spam: not learned: the message is larger than 10 bytes\n']);
  assert.equal(seen.length, posts, 'nothing posted');

  const stalled = await runLearn(['spam', '--url', url, '--password-file', passwordFile, '--timeout', '1'], 'stall');
  assert.deepEqual([stalled.code, stalled.stderr], [1, `mailfleet learn spam: not learned: ${HOST}:${new URL(url).port}: timed out\n`]);
  assert.ok(stalled.ms < 8000, `stopped at its deadline (${stalled.ms} ms)`);

  const usage = await runLearn(['junk', '--url', url, '--password-file', passwordFile], 'x');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^mailfleet: expected spam or ham, got "junk"\nusage: mailfleet learn /);
});
