import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dnsCommand } from '../../src/cli/dns.ts';
import { isMailfleetError, type ErrorCode } from '../../src/errors.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `mailfleet dns ARGS` in a child node (main.ts does not register the command yet). */
function runDns(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const script = `import { dnsCommand } from './src/cli/dns.ts'; process.exitCode = await dnsCommand(process.argv.slice(1));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const USAGE_CASES: readonly { given: string; argv: string[]; code: ErrorCode; message: RegExp }[] = [
  { given: 'no subcommand', argv: [], code: 'USAGE', message: /missing subcommand/ },
  { given: 'an unknown subcommand', argv: ['lint'], code: 'USAGE', message: /unknown subcommand lint/ },
  { given: 'no NAME', argv: ['audit'], code: 'USAGE', message: /missing NAME/ },
  { given: 'two names', argv: ['audit', 'a.example', 'b.example'], code: 'USAGE', message: /unexpected argument b\.example/ },
  { given: 'an unknown option', argv: ['audit', 'mx.example', '--ndots', '2'], code: 'USAGE', message: /usage: mailfleet dns audit/ },
  { given: 'an empty label', argv: ['audit', 'mx..example'], code: 'USAGE', message: /empty label/ },
  { given: 'an address literal', argv: ['audit', '192.0.2.1'], code: 'USAGE', message: /address literal/ },
  { given: 'a missing --resolv-conf file', argv: ['audit', 'mx.example', '--resolv-conf', '/nonexistent/resolv.conf'], code: 'DNS_AUDIT_FAILED', message: /cannot read \/nonexistent\/resolv\.conf/ },
];

for (const c of USAGE_CASES) {
  test(`GIVEN ${c.given} WHEN mailfleet dns runs THEN it fails with ${c.code}`, async () => {
    await assert.rejects(dnsCommand(c.argv), (err) => isMailfleetError(err, c.code) && c.message.test(err.message));
  });
}

test('GIVEN a resolv.conf with ndots:5 WHEN audited with --json THEN the three profiles cost 12, 12 and 2 queries', (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, 'nameserver 192.0.2.53\nsearch mail.svc.cluster.local svc.cluster.local cluster.local example.internal corp.example.internal\noptions ndots:5\n');
  const r = runDns(['audit', 'mx.example.co.jp', '--resolv-conf', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { profiles: { id: string; title: string; predicted: { total: number } }[] };
  assert.deepEqual(
    report.profiles.map((p) => [p.id, p.title, p.predicted.total]),
    [['resolv-conf', file, 12], ['kubernetes-default', 'Kubernetes default (dnsPolicy ClusterFirst)', 12], ['mailfleet', 'mailfleet dnsConfig', 2]],
  );
});

test('GIVEN a resolv.conf WHEN audited for people THEN the report names each profile and its total', (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'resolv.conf');
  writeFileSync(file, 'nameserver 192.0.2.53\n');
  const r = runDns(['audit', 'mx.example.co.jp', '--resolv-conf', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${file}: ndots:1; no search list$`, 'm'));
  assert.match(r.stdout, /^queries per lookup, predicted: .*resolv\.conf 2, Kubernetes default \(dnsPolicy ClusterFirst\) 12, mailfleet dnsConfig 2$/m);
});
