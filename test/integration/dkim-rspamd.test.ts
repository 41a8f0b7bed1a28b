/**
 * The signing directory is what rspamd 3.4's dkim_signing reads: a real rspamd, configured as src/dkim/index.ts
 * describes (path template, selector map), signs authenticated mail with the keys `mailfleet dkim` made (RSA and
 * ed25519), python3-dkim verifies it against the records `dkim show` prints, and after a rotation the running
 * rspamd signs with the new selector once it has reread the map, without a restart.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { dkimPaths, dkimSigningFiles, installSigningFiles, KEY_PATH_TEMPLATE, loadKeyring, SELECTOR_MAP_FILE, storeKeyReader } from '../../src/dkim/index.ts';
import { until } from '../support/poll.ts';
import { runCliAsync } from '../support/platform.ts';
import { findProgram, startDaemon } from './protocol/daemon.ts';

const HOST = '127.123.0.20';
const NORMAL = `${HOST}:11333`;
/** Nothing listens there: whatever rspamd asks DNS stays on loopback and goes unanswered. */
const NAMESERVER = '127.123.0.21:53';
const RSPAMD = findProgram('rspamd');
const RSPAMC = findProgram('rspamc');
const run = promisify(execFile);

const message = (domain: string) => `From: Alice <alice@${domain}>\r\nTo: bob@example.org\r\nSubject: signed by rspamd\r\nDate: Fri, 14 Mar 2025 09:30:00 +0000\r\nMessage-ID: <1@${domain}>\r\n\r\nHello, Bob.\r\n`;

function rspamdConfig(dir: string, signing: string): string {
  return `options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}/db";
  filters = "dkim";
  map_watch_interval = 1s;
  dns { nameserver = ["${NAMESERVER}"]; timeout = 1s; retransmits = 1; }
}
logging { type = "console"; level = "info"; }
worker "normal" { bind_socket = "${NORMAL}"; count = 1; }
# The controller watches the maps; without it rspamd never rereads the selector map.
worker "controller" { bind_socket = "${HOST}:11334"; count = 1; }
modules { path = "\${PLUGINSDIR}"; }
lua = "$RULESDIR/rspamd.lua";
dkim { }
dkim_signing {
  path = "${signing}/${KEY_PATH_TEMPLATE}";
  selector_map = "${signing}/${SELECTOR_MAP_FILE}";
  try_fallback = false;
  use_esld = false;
  sign_authenticated = true;
  sign_local = false;
  allow_username_mismatch = false;
}
`;
}

/** The message as rspamd returns it for an authenticated `user` (rspamc --mime applies its header changes). */
async function scanned(dir: string, domain: string, user?: string): Promise<string> {
  const file = join(dir, `${domain}.eml`);
  writeFileSync(file, message(domain));
  const { stdout } = await run(RSPAMC ?? 'rspamc', ['-h', NORMAL, ...(user ? ['--user', user] : []), '--mime', file], { timeout: 30_000 });
  return stdout;
}

async function dkim(dir: string, ...args: string[]): Promise<string> {
  const r = await runCliAsync(['dkim', ...args, '--state-dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const zones = async (dir: string, domain: string) => (await dkim(dir, 'show', domain)).split('\n').filter((l) => l !== '' && !l.startsWith(';'));

function verify(signed: string, zoneLines: string[]): { verified: boolean; asked: string[] } {
  const r = spawnSync('/usr/bin/python3', [new URL('../support/dkim-sign-verify.py', import.meta.url).pathname, JSON.stringify({ signed, zones: zoneLines, tamper: false })], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { verified: boolean; asked: string[] };
}

const selectorOf = (signed: string): string | undefined => /^DKIM-Signature:[^]*?\bs=([a-z0-9-]+);/m.exec(signed)?.[1];

function rspamdUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, '_rspamd'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

async function startRspamd(t: TestContext, dir: string, signing: string): Promise<void> {
  mkdirSync(join(dir, 'db'));
  const { uid, gid } = rspamdUser();
  chownSync(join(dir, 'db'), uid, gid);
  writeFileSync(join(dir, 'rspamd.conf'), rspamdConfig(dir, signing));
  const daemon = await startDaemon(RSPAMD ?? 'rspamd', ['-f', '-c', join(dir, 'rspamd.conf'), '-u', '_rspamd', '-g', '_rspamd'], /starting normal process/, 60_000);
  t.after(() => daemon.stop());
  await until('rspamd to answer', async () => ((await scanned(dir, 'example.com')).includes('X-Spam-Action') ? true : undefined), 30_000, 200);
}

test('GIVEN keys made by mailfleet dkim WHEN a real rspamd signs authenticated mail from the signing directory THEN python3-dkim verifies it against the records dkim show prints, and a rotation reaches it without a restart', { skip: (RSPAMD === undefined || RSPAMC === undefined) && 'rspamd is not installed' }, async (t) => {
  const dir = mkdtempSync('/tmp/mailfleet-it-dkim-rspamd-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // As the state directory: rspamd's user may pass through it, not list it.
  chmodSync(dir, 0o711);
  await dkim(dir, 'generate', 'example.com', '--algorithm', 'ed25519');
  await dkim(dir, 'generate', 'example.net');

  // What the runtime does once: the signing directory becomes rspamd's, and its files follow the owner.
  const paths = dkimPaths(dir);
  const { uid, gid } = rspamdUser();
  chownSync(paths.signing, uid, gid);
  const ring = loadKeyring(paths);
  installSigningFiles(paths.signing, dkimSigningFiles(ring, storeKeyReader(paths, ring)));
  await startRspamd(t, dir, paths.signing);

  for (const [domain, algorithm] of [['example.com', 'ed25519'], ['example.net', 'rsa']] as const) {
    const signed = await scanned(dir, domain, `alice@${domain}`);
    assert.match(signed, new RegExp(`^DKIM-Signature: v=1; a=${algorithm}-sha256;[^]*?d=${domain.replace('.', '\\.')};`, 'm'), signed);
    const result = verify(signed, await zones(dir, domain));
    assert.equal(result.verified, true, signed);
    assert.deepEqual(result.asked, [`${selectorOf(signed)}._domainkey.${domain}.`]);
  }
  assert.doesNotMatch(await scanned(dir, 'example.com'), /DKIM-Signature/, 'unauthenticated mail is not signed');
  assert.doesNotMatch(await scanned(dir, 'example.com', 'mallory@example.net'), /DKIM-Signature/, 'a user of another domain does not get example.com signed');

  const before = selectorOf(await scanned(dir, 'example.com', 'alice@example.com'));
  await dkim(dir, 'rotate', 'example.com', '--algorithm', 'ed25519', '--force');
  const after = (await zones(dir, 'example.com')).length;
  assert.equal(after, 2, 'the new record and the retiring one');
  const unsigned: string[] = [];
  const rotated = await until('rspamd to sign with the new selector', async () => {
    const signed = await scanned(dir, 'example.com', 'alice@example.com');
    const selector = selectorOf(signed);
    if (selector === undefined) unsigned.push(signed);
    return selector !== undefined && selector !== before ? signed : undefined;
  }, 30_000, 250);
  assert.deepEqual(unsigned, [], 'every message is signed while rspamd rereads the map');
  assert.match(selectorOf(rotated) ?? '', /^mf\d{8}-2$/);
  assert.equal(verify(rotated, await zones(dir, 'example.com')).verified, true, rotated);
});
