import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { startCertificateWatch } from '../../src/agent/certificate-watch.ts';
import { certificateSources, installCertificates } from '../../src/agent/certificates.ts';
import type { InstanceContext } from '../../src/config/index.ts';
import { instanceRegistry } from '../../src/metrics/index.ts';
import { issue, makeCa, removeCa, serialOf, writePair, writeSecretVolume } from '../support/certificates.ts';
import { until } from '../support/poll.ts';
import { testSpec } from '../support/spec.ts';

const ca = makeCa();
test.after(() => removeCa(ca));
const spec = testSpec('tls: { certificates: [{ name: main, hosts: [mx.example.com] }, { name: net, hosts: [mail.example.net] }] }');
/** Short enough for a test to wait on, long enough to see that a burst of writes is one change. */
const TIMING = { pollMs: 200, settleMs: 100 };

interface Harness {
  inst: InstanceContext;
  reloads: () => number;
  lines: () => Record<string, unknown>[];
  metrics: () => Promise<string>;
  served: (name: string) => string;
  failReloads: (fail: boolean) => void;
}

function harness(t: TestContext, layout: 'files' | 'secret-volume' = 'files'): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const inst: InstanceContext = { role: 'mta', name: 'mta-0', listen: '127.0.0.1', configDir: join(dir, 'config'), dataDir: join(dir, 'data'), runDir: join(dir, 'run'), mailDir: join(dir, 'mail'), tlsDir: join(dir, 'tls') };
  const write = layout === 'files' ? writePair : writeSecretVolume;
  write(join(inst.tlsDir, 'main'), issue(ca, ['mx.example.com']));
  write(join(inst.tlsDir, 'net'), issue(ca, ['mail.example.net']));
  const logged: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let reloads = 0;
  let fail = false;
  const registry = instanceRegistry('mta', 'mta-0');
  const watch = startCertificateWatch({
    registry,
    sources: certificateSources(spec, inst),
    serving: installCertificates(spec, inst),
    reload: async () => {
      reloads++;
      if (fail) throw new Error('postfix reload exited with 1');
    },
    log: pino({ level: 'info' }, sink),
    ...TIMING,
  });
  t.after(() => watch.close());
  return {
    inst,
    reloads: () => reloads,
    lines: () => logged,
    metrics: () => registry.metrics(),
    served: (name) => serialOf(readFileSync(join(inst.runDir, 'tls', `${name}.pem`), 'utf8')),
    failReloads: (f) => {
      fail = f;
    },
  };
}

const reloadsOf = async (h: Harness, result: string): Promise<number> =>
  Number(new RegExp(`mailfleet_agent_certificate_reloads_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(await h.metrics())?.[1]);

test('GIVEN a certificate in service WHEN a renewal replaces both files THEN it is installed, the daemon reloads once and one line names it with its new expiry', async (t) => {
  const h = harness(t);
  const renewed = issue(ca, ['mail.example.net'], { days: 20 });
  writePair(join(h.inst.tlsDir, 'net'), renewed);
  await until('a reload', async () => (h.reloads() > 0 ? true : undefined), 5000, 20);
  assert.equal(h.served('net'), renewed.serial);
  assert.equal(await reloadsOf(h, 'ok'), 1);
  const line = h.lines().find((l) => l.msg === 'certificates reloaded');
  assert.deepEqual((line?.certificates as { name: string }[]).map((c) => c.name), ['net']);
  assert.match(JSON.stringify(line), /"notAfter":"\d{4}-/);
  // Quiet afterwards: the same files are not reloaded again at the next polls (an absence: only time shows it).
  await delay(TIMING.pollMs * 3);
  assert.equal(h.reloads(), 1);
});

test('GIVEN a certificate in service WHEN a new certificate arrives with the old key THEN it is refused once, the old one stays, and the fixed pair is taken later', async (t) => {
  const h = harness(t);
  const before = h.served('main');
  const renewed = issue(ca, ['mx.example.com']);
  const oldKey = readFileSync(join(h.inst.tlsDir, 'main', 'tls.key'), 'utf8');
  writePair(join(h.inst.tlsDir, 'main'), { cert: renewed.cert, key: oldKey });
  await until('a refusal', async () => ((await reloadsOf(h, 'rejected')) === 1 ? true : undefined), 5000, 20);
  await delay(TIMING.pollMs * 3);
  assert.equal(await reloadsOf(h, 'rejected'), 1, 'refused once, not at every poll');
  assert.equal(h.reloads(), 0);
  assert.equal(h.served('main'), before);
  const refusal = h.lines().find((l) => l.msg === 'new certificate refused; the old one stays in service');
  assert.equal(refusal?.certificate, 'main');
  assert.doesNotMatch(JSON.stringify(h.lines()), /PRIVATE KEY|MII|MHc/, 'no key material in the log');

  writePair(join(h.inst.tlsDir, 'main'), renewed);
  await until('the fixed pair', async () => (h.reloads() === 1 ? true : undefined), 5000, 20);
  assert.equal(h.served('main'), renewed.serial);
});

test('GIVEN a Secret volume WHEN the kubelet swaps its ..data link THEN the new certificate is installed and the daemon reloads', async (t) => {
  const h = harness(t, 'secret-volume');
  const renewed = issue(ca, ['mx.example.com']);
  writeSecretVolume(join(h.inst.tlsDir, 'main'), renewed);
  await until('a reload', async () => (h.reloads() === 1 ? true : undefined), 5000, 20);
  assert.equal(h.served('main'), renewed.serial);
});

test('GIVEN a certificate directory replaced as a whole WHEN its old inotify watch sees nothing more THEN the poll still finds the change', async (t) => {
  const h = harness(t);
  const renewed = issue(ca, ['mail.example.net']);
  const staged = join(h.inst.tlsDir, '.net-new');
  writePair(staged, renewed);
  rmSync(join(h.inst.tlsDir, 'net'), { recursive: true });
  renameSync(staged, join(h.inst.tlsDir, 'net'));
  await until('a reload', async () => (h.reloads() === 1 ? true : undefined), 5000, 20);
  assert.equal(h.served('net'), renewed.serial);
  // And a later renewal in the new directory, which no watch covers now, is found by the poll too.
  const again = issue(ca, ['mail.example.net']);
  writePair(join(h.inst.tlsDir, 'net'), again);
  await until('a second reload', async () => (h.reloads() === 2 ? true : undefined), 5000, 20);
  assert.equal(h.served('net'), again.serial);
});

test('GIVEN a daemon whose reload fails WHEN a new certificate arrives THEN the failure is counted and logged', async (t) => {
  const h = harness(t);
  h.failReloads(true);
  writePair(join(h.inst.tlsDir, 'main'), issue(ca, ['mx.example.com']));
  await until('a failed reload', async () => ((await reloadsOf(h, 'failed')) === 1 ? true : undefined), 5000, 20);
  assert.equal(await reloadsOf(h, 'ok'), 0);
  assert.ok(h.lines().some((l) => l.msg === 'certificate reload failed' && l.err === 'postfix reload exited with 1'));
});

test('GIVEN two certificates in service WHEN metrics are read THEN each one\'s expiry is exported', async (t) => {
  const h = harness(t);
  const text = await h.metrics();
  assert.match(text, /^mailfleet_agent_certificate_expiry_timestamp_seconds\{certificate="main",role="mta",instance="mta-0"\} \d{10}$/m);
  assert.match(text, /^mailfleet_agent_certificate_expiry_timestamp_seconds\{certificate="net",role="mta",instance="mta-0"\} \d{10}$/m);
  assert.equal(await reloadsOf(h, 'ok'), 0);
});
