/**
 * The record `mailfleet dkim show` prints is the one an independent verifier needs: a message signed with the
 * key rspamd would read (STATE/dkim/signing/) verifies with python3-dkim against exactly that record, for RSA
 * (two TXT strings) and ed25519.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/platform.ts';

const SCRIPT = new URL('../support/dkim-sign-verify.py', import.meta.url).pathname;
/** Debian's python3-dkim: the system interpreter, whatever python3 comes first on PATH. */
const PYTHON = '/usr/bin/python3';
const MESSAGE = 'From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: signed\r\nDate: Fri, 14 Mar 2025 09:30:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello, Bob.\r\n';

interface Outcome { verified: boolean; asked: string[]; signature: string }

function signAndVerify(args: Record<string, unknown>): Outcome {
  const r = spawnSync(PYTHON, [SCRIPT, JSON.stringify(args)], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Outcome;
}

for (const algorithm of ['rsa', 'ed25519'] as const) {
  test(`GIVEN a ${algorithm} key made by mailfleet dkim generate WHEN a message is signed with its signing file THEN python3-dkim verifies it against the record dkim show printed, and not once the body changed`, (t) => {
    const dir = mkdtempSync('/tmp/mailfleet-it-dkim-');
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const generated = runCli(['dkim', 'generate', 'example.com', '--algorithm', algorithm, '--state-dir', dir]);
    assert.equal(generated.code, 0, generated.stderr);
    const shown = runCli(['dkim', 'show', 'example.com', '--state-dir', dir]);
    assert.equal(shown.code, 0, shown.stderr);
    const [zone, ...more] = shown.stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'));
    assert.equal(more.length, 0);
    const selector = /^(mf\d{8})\._domainkey\.example\.com\. IN TXT /.exec(zone ?? '')?.[1];
    assert.ok(selector, zone);
    if (algorithm === 'rsa') assert.equal((zone?.match(/"/g) ?? []).length, 4, 'an RSA 2048 record takes two strings');

    const args = { zones: [zone], keyFile: join(dir, 'dkim', 'signing', `example.com.${selector}.key`), algorithm, domain: 'example.com', selector, message: MESSAGE };
    const good = signAndVerify({ ...args, tamper: false });
    assert.equal(good.verified, true, good.signature);
    assert.match(good.signature, new RegExp(`a=${algorithm}-sha256;`));
    assert.match(good.signature, new RegExp(`s=${selector};`));
    assert.deepEqual(good.asked, [`${selector}._domainkey.example.com.`]);
    const bad = signAndVerify({ ...args, tamper: true });
    assert.equal(bad.verified, false, 'a changed body must fail: the check can fail');
  });
}
