import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { LOG_DIR_MODE, LOG_FILE_MODE, logsDir, privateLogs } from '../../../src/runtime/local/logs.ts';

const mode = (path: string) => statSync(path).mode & 0o777;

function stateDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-unit-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('GIVEN a new state dir WHEN its logs dir is prepared THEN it is root\'s only (0700)', (t) => {
  const dir = logsDir(stateDir(t));
  privateLogs(dir);
  assert.equal(mode(dir), 0o700);
  assert.equal(LOG_DIR_MODE, 0o700);
});

test('GIVEN logs an earlier run left readable by everyone WHEN the logs dir is prepared THEN the dir is 0700 and every log 0600', (t) => {
  const dir = logsDir(stateDir(t));
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  for (const name of ['runtime.log', 'mta-0.log']) {
    writeFileSync(join(dir, name), 'line\n');
    chmodSync(join(dir, name), 0o644);
  }
  privateLogs(dir);
  assert.equal(mode(dir), 0o700);
  for (const name of ['runtime.log', 'mta-0.log']) assert.equal(mode(join(dir, name)), LOG_FILE_MODE, name);
  assert.equal(LOG_FILE_MODE, 0o600);
});
