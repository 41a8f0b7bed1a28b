/**
 * `mailfleet dashboards -o DIR`: the dashboards as files for import, written only inside DIR.
 */
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { outputPath } from '../../src/cli/dashboards.ts';
import { dashboardFiles } from '../../src/dashboards/index.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { runCli } from '../support/platform.ts';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync('/tmp/mailfleet-unit-dashboards-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('GIVEN a directory that does not exist WHEN dashboards -o writes into it THEN it holds the five dashboards as generated, and each path is printed', (t) => {
  const out = join(tempDir(t), 'grafana', 'import');
  const r = runCli(['dashboards', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const expected = dashboardFiles();
  assert.deepEqual(readdirSync(out).sort(), Object.keys(expected).sort());
  for (const [name, text] of Object.entries(expected)) assert.equal(readFileSync(join(out, name), 'utf8'), text, name);
  assert.deepEqual(r.stdout.trim().split('\n'), Object.keys(expected).map((name) => join(out, name)));
  assert.match(r.stderr, /wrote 5 Grafana dashboards/);
});

test('GIVEN a symbolic link under a dashboard\'s name pointing out of the directory WHEN dashboards -o writes THEN the link is replaced and its target left alone', (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'out');
  const outside = join(dir, 'precious.txt');
  writeFileSync(outside, 'keep me\n');
  assert.equal(runCli(['dashboards', '-o', out]).code, 0);
  rmSync(join(out, 'mailfleet-overview.json'));
  symlinkSync(outside, join(out, 'mailfleet-overview.json'));
  const r = runCli(['dashboards', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(outside, 'utf8'), 'keep me\n');
  assert.ok(lstatSync(join(out, 'mailfleet-overview.json')).isFile());
  assert.equal(readFileSync(join(out, 'mailfleet-overview.json'), 'utf8'), dashboardFiles()['mailfleet-overview.json']);
  assert.deepEqual(readdirSync(out).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
});

test('GIVEN no -o, or a stray argument WHEN dashboards runs THEN it exits 2 with its usage and writes nothing', () => {
  for (const args of [['dashboards'], ['dashboards', 'extra', '-o', '/tmp/mailfleet-never-written']]) {
    const r = runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /mailfleet dashboards -o DIR/);
    assert.equal(r.stdout, '');
  }
  assert.throws(() => lstatSync('/tmp/mailfleet-never-written'), { code: 'ENOENT' });
});

test('GIVEN names that would leave the directory WHEN their output path is asked THEN each is refused as OUTPUT_REFUSED', () => {
  assert.equal(outputPath('/srv/out', 'mailfleet-overview.json'), '/srv/out/mailfleet-overview.json');
  assert.equal(outputPath('rel/dir', 'a.json'), join(process.cwd(), 'rel/dir/a.json'));
  for (const name of ['../escape.json', 'sub/file.json', '/etc/passwd', '..', '.', '', 'a/../../b.json']) {
    assert.throws(() => outputPath('/srv/out', name), (err: unknown) => isMailfleetError(err, 'OUTPUT_REFUSED'), JSON.stringify(name));
  }
});
