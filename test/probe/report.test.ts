import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CycleReport } from '../../src/probe/prober.ts';
import { summarize, summaryText } from '../../src/probe/report.ts';

const REPORT: CycleReport = {
  startedAt: Date.UTC(2026, 0, 1, 12),
  staleRemoved: 2,
  paths: [
    { path: 'msa', tag: 't1', outcome: 'succeeded', durationMs: 812.4, stages: [{ stage: 'connect', durationMs: 20.2 }, { stage: 'smtp', durationMs: 79.6 }] },
    {
      path: 'mta', tag: 't2', outcome: 'failed', durationMs: 61, stages: [{ stage: 'connect', durationMs: 57 }],
      failure: { stage: 'smtp', code: 'REFUSED', message: 'RCPT TO refused with 550', reply: '550 5.1.1 <x@example.com>: Recipient address rejected', address: '127.1.0.4:25' },
    },
  ],
};

test('GIVEN a cycle with a failed path WHEN summarized THEN it is not ok, each path says how it went, milliseconds rounded', () => {
  const summary = summarize(REPORT);
  assert.equal(summary.ok, false);
  assert.equal(summary.startedAt, '2026-01-01T12:00:00.000Z');
  assert.deepEqual(summary.paths.map((p) => [p.path, p.ok, p.durationMs]), [['msa', true, 812], ['mta', false, 61]]);
  assert.deepEqual(summary.paths[0]?.stages, { connect: 20, smtp: 80 });
  assert.equal(summary.paths[1]?.failure?.reply, '550 5.1.1 <x@example.com>: Recipient address rejected');
  assert.equal(JSON.parse(JSON.stringify(summary)).paths[1].failure.stage, 'smtp', 'it survives JSON');
});

test('GIVEN every path through WHEN summarized THEN it is ok; no path at all is not', () => {
  assert.equal(summarize({ ...REPORT, paths: [REPORT.paths[0]!] }).ok, true);
  assert.equal(summarize({ ...REPORT, paths: [] }).ok, false);
});

test('GIVEN the summary WHEN printed THEN a row per path with a column per stage, then the failure with what the server said', () => {
  const text = summaryText(summarize(REPORT));
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^PATH\s+RESULT\s+TOTAL\s+CONNECT\s+SMTP\s+DELIVERY_IMAP\s+FETCH_IMAP\s+DELIVERY_POP3\s+FETCH_POP3$/);
  assert.match(lines[1] ?? '', /^msa\s+ok\s+812 ms\s+20 ms\s+80 ms\s+-\s+-\s+-\s+-$/);
  assert.match(lines[2] ?? '', /^mta\s+failed at smtp\s+61 ms\s+57 ms\s+-/);
  assert.ok(lines.includes('mta: smtp failed (REFUSED; 127.1.0.4:25): RCPT TO refused with 550'), text);
  assert.ok(lines.includes('  server said: 550 5.1.1 <x@example.com>: Recipient address rejected'), text);
  assert.ok(lines.includes('removed 2 stale probe message(s)'), text);
});
