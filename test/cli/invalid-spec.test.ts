import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/platform.ts';

test('GIVEN an invalid spec WHEN mailfleet up runs THEN it exits 2 with one line per problem and starts nothing', (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-unit-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const spec = join(dir, 'bad.yaml');
  writeFileSync(spec, `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: Bad_Name }
spec:
  domains: [example.com]
  roles: { mailbox: { replicas: many } }
  local: { stateDir: ${join(dir, 'state')} }
`);
  const r = runCli(['up', '-f', spec]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', /bad\.yaml: 2 problem\(s\)/);
  assert.ok(lines.includes('  metadata.name: expected a value matching ^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'), r.stderr);
  assert.ok(lines.includes('  spec.roles.mailbox.replicas: expected integer'), r.stderr);
  assert.equal(existsSync(join(dir, 'state')), false, 'nothing may be created for an invalid spec');
});

test('GIVEN an unknown command WHEN mailfleet runs THEN it exits 2 and prints usage', () => {
  const r = runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /usage: mailfleet COMMAND/);
});
