/**
 * `mailfleet dkim rotate` promotes a pending selector only when a real DNS lookup (node:dns against a server on
 * this test's loopback addresses) answers with its record: not while the name is missing, not when it
 * publishes another key, and at once when it publishes the record `dkim show` printed (two TXT strings).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startAuditServer, type AuditServer } from '../../src/dns/index.ts';
import { runCliAsync, type CliResult } from '../support/platform.ts';

const DNS_HOST = '127.123.0.10';

interface Shown { records: { selector: string; state: string; name: string; strings: string[] }[] }
interface Listed { selector: string; state: string }

async function nameserver(t: TestContext, txt: Record<string, string[][]>): Promise<AuditServer> {
  const server = await startAuditServer({ host: DNS_HOST, port: 0, existing: [], txt });
  t.after(() => server.close());
  return server;
}

test('GIVEN a pending selector WHEN rotate asks DNS THEN it stays pending while the record is missing or another key, and signs once DNS publishes its record', async (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-it-dkim-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dkim = (...args: string[]): Promise<CliResult> => runCliAsync(['dkim', ...args, '--state-dir', dir]);
  assert.equal((await dkim('generate', 'example.com')).code, 0);
  assert.equal((await dkim('rotate', 'example.com')).code, 0);
  const shown = JSON.parse((await dkim('show', 'example.com', '--json')).stdout) as Shown;
  const pending = shown.records.find((r) => r.state === 'pending');
  const active = shown.records.find((r) => r.state === 'active');
  assert.ok(pending && active);
  assert.equal(pending.strings.length, 2, 'an RSA 2048 record is two TXT strings on the wire');

  const empty = await nameserver(t, {});
  const missing = await dkim('rotate', 'example.com', '--dns', `${empty.host}:${empty.port}`);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, new RegExp(`^mailfleet: example\\.com selector ${pending.selector} stays pending: the name does not exist \\(NXDOMAIN\\) \\(asked ${DNS_HOST}:${empty.port}\\)`));
  assert.deepEqual(empty.queries().map((q) => `${q.type} ${q.name}`), [`TXT ${pending.name}.`]);

  // The active selector's key published at the pending selector's name: a record, but not this key.
  const wrong = await nameserver(t, { [pending.name]: [active.strings] });
  const other = await dkim('rotate', 'example.com', '--dns', `${wrong.host}:${wrong.port}`);
  assert.equal(other.code, 1, other.stderr);
  assert.match(other.stderr, /stays pending: the record publishes another public key/);
  assert.deepEqual((JSON.parse((await dkim('list', '--json')).stdout) as Listed[]).map((k) => k.state), ['active', 'pending']);

  const published = await nameserver(t, { [pending.name]: [pending.strings] });
  const promoted = await dkim('rotate', 'example.com', '--dns', `${published.host}:${published.port}`);
  assert.equal(promoted.code, 0, promoted.stderr);
  assert.match(promoted.stdout, new RegExp(`example\\.com signs with selector ${pending.selector} from now; ${active.selector} is retiring`));
  assert.deepEqual((JSON.parse((await dkim('list', '--json')).stdout) as Listed[]).map((k) => `${k.selector} ${k.state}`), [`${active.selector} retiring`, `${pending.selector} active`]);
  assert.equal(readFileSync(join(dir, 'dkim', 'signing', 'selectors.map'), 'utf8'), `example.com ${pending.selector}\n`);
});

test('GIVEN a pending selector whose record DNS publishes WHEN dkim sync runs THEN it is promoted', async (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-it-dkim-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dkim = (...args: string[]): Promise<CliResult> => runCliAsync(['dkim', ...args, '--state-dir', dir]);
  assert.equal((await dkim('generate', 'example.com', '--algorithm', 'ed25519')).code, 0);
  assert.equal((await dkim('rotate', 'example.com', '--algorithm', 'ed25519')).code, 0);
  const pending = (JSON.parse((await dkim('show', 'example.com', '--json')).stdout) as Shown).records.find((r) => r.state === 'pending');
  assert.ok(pending);
  const server = await nameserver(t, { [pending.name]: [pending.strings] });
  const synced = await dkim('sync', '--dns', `${server.host}:${server.port}`);
  assert.equal(synced.code, 0, synced.stderr);
  assert.match(synced.stdout, new RegExp(`^example\\.com: signs with ${pending.selector} from now; mf\\d{8} is retiring until `, 'm'));
});
