import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProbeMetrics } from '../../src/probe/metrics.ts';
import type { PathResult } from '../../src/probe/stages.ts';

const LABELS = { role: 'probe', instance: 'probe-0' };

/** `name{labels} value` lines of the exposition, default labels left out. */
async function samples(metrics: ReturnType<typeof createProbeMetrics>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await metrics.registry.metrics()).split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter((l) => !l.startsWith('role=') && !l.startsWith('instance=')).sort().join(',');
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

const succeeded: PathResult = {
  path: 'msa', tag: 't1', outcome: 'succeeded', durationMs: 800,
  stages: [{ stage: 'connect', durationMs: 20 }, { stage: 'smtp', durationMs: 80 }, { stage: 'delivery_imap', durationMs: 400 }, { stage: 'fetch_imap', durationMs: 10 }, { stage: 'delivery_pop3', durationMs: 250 }, { stage: 'fetch_pop3', durationMs: 40 }],
};
const failed: PathResult = { path: 'mta', tag: 't2', outcome: 'failed', durationMs: 30_100, stages: [{ stage: 'connect', durationMs: 50 }, { stage: 'smtp', durationMs: 30 }], failure: { stage: 'delivery_imap', code: 'DEADLINE', message: 'late' } };

test('GIVEN a new prober WHEN scraped THEN every path has its run and failure counters at 0 and no success gauge yet', async () => {
  const s = await samples(createProbeMetrics({ labels: LABELS, paths: ['msa', 'mta'] }));
  assert.equal(s.get('mailfleet_probe_runs_total{path="msa",result="failure"}'), 0);
  assert.equal(s.get('mailfleet_probe_failures_total{path="mta",stage="fetch_pop3"}'), 0);
  assert.equal(s.has('mailfleet_probe_success{path="msa"}'), false, 'no cycle has run: no verdict');
});

test('GIVEN a path that succeeded WHEN recorded THEN success is 1, its run counted, its duration and every stage observed, its time kept', async () => {
  const metrics = createProbeMetrics({ labels: LABELS, paths: ['msa', 'mta'] });
  metrics.record(succeeded, Date.UTC(2026, 0, 1));
  const s = await samples(metrics);
  assert.equal(s.get('mailfleet_probe_success{path="msa"}'), 1);
  assert.equal(s.get('mailfleet_probe_runs_total{path="msa",result="success"}'), 1);
  assert.equal(s.get('mailfleet_probe_duration_seconds_count{path="msa"}'), 1);
  assert.equal(s.get('mailfleet_probe_duration_seconds_sum{path="msa"}'), 0.8);
  assert.equal(s.get('mailfleet_probe_stage_duration_seconds_count{path="msa",stage="delivery_imap"}'), 1);
  assert.equal(s.get('mailfleet_probe_stage_duration_seconds_sum{path="msa",stage="delivery_imap"}'), 0.4);
  assert.equal(s.get('mailfleet_probe_last_success_timestamp_seconds{path="msa"}'), Date.UTC(2026, 0, 1) / 1000);
});

test('GIVEN a path that failed WHEN recorded THEN success is 0, the failure counted at its stage, only the stages that ended observed, no duration', async () => {
  const metrics = createProbeMetrics({ labels: LABELS, paths: ['msa', 'mta'] });
  metrics.record(succeeded, 1000);
  metrics.record(failed, 2000);
  const s = await samples(metrics);
  assert.equal(s.get('mailfleet_probe_success{path="mta"}'), 0);
  assert.equal(s.get('mailfleet_probe_runs_total{path="mta",result="failure"}'), 1);
  assert.equal(s.get('mailfleet_probe_failures_total{path="mta",stage="delivery_imap"}'), 1);
  assert.equal(s.get('mailfleet_probe_failures_total{path="mta",stage="smtp"}'), 0);
  assert.equal(s.get('mailfleet_probe_stage_duration_seconds_count{path="mta",stage="smtp"}'), 1);
  assert.equal(s.has('mailfleet_probe_stage_duration_seconds_count{path="mta",stage="delivery_imap"}'), false);
  assert.equal(s.has('mailfleet_probe_duration_seconds_count{path="mta"}'), false);
  assert.equal(s.has('mailfleet_probe_last_success_timestamp_seconds{path="mta"}'), false);
  assert.equal(s.get('mailfleet_probe_success{path="msa"}'), 1, 'each path has its own verdict');
});

test('GIVEN a path cut short by a stop WHEN recorded THEN nothing is counted', async () => {
  const metrics = createProbeMetrics({ labels: LABELS, paths: ['msa'] });
  metrics.record({ ...failed, path: 'msa', outcome: 'aborted' }, 0);
  const s = await samples(metrics);
  assert.equal(s.get('mailfleet_probe_runs_total{path="msa",result="failure"}'), 0);
  assert.equal(s.has('mailfleet_probe_success{path="msa"}'), false);
});

test('GIVEN certificates seen WHEN scraped THEN each endpoint and server name has its notAfter, and every series has role and instance', async () => {
  const metrics = createProbeMetrics({ labels: LABELS, paths: ['msa'] });
  metrics.certificate('imap', 'mx.example.com', 1_900_000_000);
  const text = await metrics.registry.metrics();
  assert.match(text, /^mailfleet_probe_certificate_expiry_timestamp_seconds\{endpoint="imap",servername="mx\.example\.com",role="probe",instance="probe-0"\} 1900000000$/m);
  for (const line of text.split('\n').filter((l) => l.startsWith('mailfleet_'))) assert.match(line, /role="probe",instance="probe-0"|instance="probe-0".*role="probe"|role="probe".*instance="probe-0"/, line);
});
