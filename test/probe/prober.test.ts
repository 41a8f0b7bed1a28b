import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProbeMetrics } from '../../src/probe/metrics.ts';
import { createProber } from '../../src/probe/prober.ts';
import type { ProbeSettings } from '../../src/probe/settings.ts';
import { capturedLogger } from '../support/log-lines.ts';

const SETTINGS: ProbeSettings = {
  instance: 'probe-0',
  paths: ['msa', 'mta'],
  account: { address: 'probe@example.com', password: 'a-probe-password' },
  tls: { msaMode: 'implicit' },
  heloName: 'probe.example.com',
  intervalMs: 60_000,
  timeoutMs: 30_000,
};

function prober(targets: () => Record<string, never>, now = () => Date.UTC(2026, 0, 1)) {
  const { log, lines } = capturedLogger();
  const metrics = createProbeMetrics({ labels: { role: 'probe', instance: 'probe-0' }, paths: SETTINGS.paths });
  return { prober: createProber({ settings: SETTINGS, targets, metrics, log, now }), lines, metrics };
}

test('GIVEN no instance of any role running WHEN a cycle runs THEN each path fails at connect, is counted, and the log names path, stage and why', async () => {
  const { prober: p, lines, metrics } = prober(() => ({}));
  const report = await p.cycle(new AbortController().signal);
  assert.deepEqual(report.paths.map((r) => [r.path, r.outcome, r.failure?.stage, r.failure?.code]), [['msa', 'failed', 'connect', 'NO_ENDPOINT'], ['mta', 'failed', 'connect', 'NO_ENDPOINT']]);
  assert.equal(report.staleError, 'no imap endpoint');
  const failures = lines().filter((l) => l.msg === 'probe stage failed');
  assert.deepEqual(failures.map((l) => [l.path, l.stage, l.code]), [['msa', 'connect', 'NO_ENDPOINT'], ['mta', 'connect', 'NO_ENDPOINT']]);
  assert.match(String(failures[0]?.err), /no msa endpoint to dial/);
  assert.match(await metrics.registry.metrics(), /^mailfleet_probe_failures_total\{path="mta",stage="connect",role="probe",instance="probe-0"\} 1$/m);
});

test('GIVEN targets that cannot be read WHEN a cycle runs THEN it says so and fails the paths at connect, without throwing', async () => {
  const { prober: p, lines } = prober(() => { throw new Error('peers.json: unexpected end of JSON'); });
  const report = await p.cycle(new AbortController().signal);
  assert.ok(report.paths.every((r) => r.failure?.code === 'NO_ENDPOINT'));
  assert.ok(lines().some((l) => l.msg === 'probe targets unreadable' && /unexpected end/.test(String(l.err))));
});

test('GIVEN the clock WHEN no cycle started for longer than an interval and the longest cycle THEN /livez fails; ready only while running', async () => {
  let now = Date.UTC(2026, 0, 1);
  const { prober: p } = prober(() => ({}), () => now);
  assert.equal(p.ready().ok, false, 'not running yet');
  assert.equal(p.live().ok, true);
  now += 60_000 + 7 * 30_000 + 30_000 + 1;
  assert.deepEqual(p.live(), { ok: false, detail: 'no cycle started for 300 s' });
  await p.cycle(new AbortController().signal);
  assert.equal(p.live().ok, true, 'a cycle started just now');
});

test('GIVEN a running loop WHEN it is stopped THEN it reports ready while it runs, not ready once stopping, and resolves', async () => {
  const { prober: p, lines } = prober(() => ({}));
  const stop = new AbortController();
  const running = p.run(stop.signal);
  assert.equal(p.ready().ok, true);
  stop.abort();
  assert.deepEqual(p.ready(), { ok: false, detail: 'stopping' });
  await running;
  assert.ok(lines().some((l) => l.msg === 'prober stopped'));
});
