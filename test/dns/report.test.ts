/**
 * The audit report against committed expected output. After an intended change to the output, run
 * `UPDATE_EXPECTED=1 node --test test/dns/report.test.ts` and review the diff of test/dns/expected/.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { kubernetesProfiles, runAudit, type AuditReport } from '../../src/dns/audit.ts';
import { auditReportJson, formatAuditReport } from '../../src/dns/report.ts';
import { parseResolvConf } from '../../src/dns/resolv-conf.ts';
import { predictQueries } from '../../src/dns/search.ts';

const EXPECTED = new URL('./expected/', import.meta.url);

function matchesExpected(file: string, actual: string): void {
  const url = new URL(file, EXPECTED);
  if (process.env.UPDATE_EXPECTED === '1') writeFileSync(url, actual);
  assert.equal(actual, readFileSync(url, 'utf8'));
}

async function mxReport(): Promise<AuditReport> {
  const conf = parseResolvConf('nameserver 192.0.2.53\nsearch corp.example.internal\n');
  return runAudit({ name: 'mx.example.co.jp', profiles: [{ id: 'resolv-conf', title: '/etc/resolv.conf', conf }, ...kubernetesProfiles()] });
}

test('GIVEN mx.example.co.jp WHEN audited without observing THEN the text report lists 2, 12 and 2 predicted queries', async () => {
  const report = await mxReport();
  assert.deepEqual(report.profiles.map((p) => p.prediction.queries.length), [2, 12, 2]);
  matchesExpected('audit-mx.example.co.jp.txt', formatAuditReport(report));
});

test('GIVEN mx.example.co.jp WHEN audited for machines THEN the JSON report has the same numbers', async () => {
  matchesExpected('audit-mx.example.co.jp.json', `${JSON.stringify(auditReportJson(await mxReport()), null, 2)}\n`);
});

test('GIVEN an observation that differs from the prediction WHEN reported THEN MISMATCH is shown with the predicted list', () => {
  const conf = parseResolvConf('search a.test\noptions ndots:5\n');
  const prediction = predictQueries(conf, 'mx.example');
  const report: AuditReport = {
    name: 'mx.example',
    types: ['A', 'AAAA'],
    observed: true,
    profiles: [
      {
        profile: { id: 'resolv-conf', title: 'test.conf', conf },
        prediction,
        observation: { queries: [{ name: 'mx.example.', type: 'A', transport: 'tcp' }], exitCode: 0, matches: false },
      },
    ],
  };
  matchesExpected('audit-mismatch.txt', formatAuditReport(report));
});
