/**
 * The updater's generated freshclam.conf, run by the real freshclam against a private mirror on loopback: it is
 * accepted as written, freshclam asks that mirror directly for the daily database and logs on stdout. (No
 * signed database can be made here, so the download itself fails; clamd's side of the volume is proven by the
 * rendered av pod, see test/integration/kube/rendered-pods.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemAccount } from '../../../src/agent/index.ts';
import { CLAMAV_USER, FRESHCLAM, FRESHCLAM_CONF, freshclamFiles } from '../../../src/config/index.ts';
import { testSpec } from '../../support/spec.ts';

const MIRROR_HOST = '127.128.15.4';
const RUN_TIMEOUT_MS = 60_000;

test('GIVEN the generated freshclam.conf and a private mirror WHEN freshclam runs THEN it takes the config, asks that mirror directly and logs on stdout', { timeout: 2 * RUN_TIMEOUT_MS }, async (t) => {
  const asked: string[] = [];
  const mirror: Server = createServer((req, res) => {
    asked.push(req.url ?? '');
    res.writeHead(404).end();
  });
  mirror.listen(0, MIRROR_HOST);
  await once(mirror, 'listening');
  t.after(() => mirror.close());
  const { port } = mirror.address() as AddressInfo;

  const root = mkdtempSync('/tmp/mailfleet-test-freshclam-');
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // clamav passes through to its directories.
  chmodSync(root, 0o755);
  const signaturesDir = join(root, 'signatures');
  const runDir = join(root, 'run');
  mkdirSync(signaturesDir);
  mkdirSync(runDir);
  // freshclam started as root drops to DatabaseOwner, which writes the directory.
  const { uid, gid } = systemAccount(CLAMAV_USER);
  chownSync(signaturesDir, uid, gid);
  chownSync(runDir, uid, gid);
  const spec = testSpec(`filter: { antivirus: { signatures: { mirror: "http://${MIRROR_HOST}:${port}", checksPerDay: 2 } } }`);
  const instance = { role: 'av' as const, name: 'freshclam', listen: '0.0.0.0', configDir: root, dataDir: root, runDir, mailDir: root, tlsDir: root };
  const files = freshclamFiles({ spec, instance, peers: { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] }, dkimDir: root, signaturesDir });
  const conf = join(root, FRESHCLAM_CONF);
  writeFileSync(conf, files[FRESHCLAM_CONF] ?? '');

  // Once (no --daemon): it gives up on the mirror after its retry and exits.
  const child = spawn(FRESHCLAM, [`--config-file=${conf}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);

  const output = `${stdout}${stderr}`;
  assert.doesNotMatch(output, /Parse error|Unknown option|ERROR: Can't open|Incorrect argument/i, 'freshclam takes the generated config as written');
  assert.ok(asked.includes('/daily.cvd'), `freshclam asked the private mirror for the daily database: ${asked.join(' ')}\n${output}`);
  assert.match(stdout, new RegExp(`Trying to retrieve CVD header from http://${MIRROR_HOST.replace(/\./g, '\\.')}:${port}/daily\\.cvd`), 'its log is on stdout');
  assert.notEqual(code, 0, 'no database could be had, and freshclam says so');
});
