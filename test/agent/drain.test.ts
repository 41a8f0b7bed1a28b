import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { doveadmRows, replaceMainCfSettings } from '../../src/agent/index.ts';

const MAIN_CF = [
  '# generated',
  'smtpd_delay_reject = yes',
  'smtpd_client_restrictions = check_policy_service inet:127.0.0.1:10031,',
  '  permit',
  'smtpd_data_restrictions = reject_unauth_pipelining',
  '',
].join('\n');
const DRAIN = { smtpd_delay_reject: 'no', smtpd_client_restrictions: 'static:{421 4.3.2 Service shutting down, try again later}' };

test('GIVEN a main.cf that sets the drain keys (one over two lines) WHEN the drain settings go in THEN each key appears once, its continuation gone, the rest kept', () => {
  const out = replaceMainCfSettings(MAIN_CF, '# draining', DRAIN);
  assert.equal(out, [
    '# generated',
    'smtpd_data_restrictions = reject_unauth_pipelining',
    '# draining',
    'smtpd_delay_reject = no',
    'smtpd_client_restrictions = static:{421 4.3.2 Service shutting down, try again later}',
    '',
  ].join('\n'));
  assert.equal(replaceMainCfSettings(out, '# draining', DRAIN).split('smtpd_delay_reject').length, 2, 'applied twice, still once');
});

test('GIVEN the drained main.cf WHEN Postfix\'s postconf reads it THEN it warns of nothing and reads the drain values', { skip: spawnSync('postconf', ['-d', 'mail_version']).status !== 0 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-drain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'main.cf'), replaceMainCfSettings(MAIN_CF, '# draining', DRAIN));
  writeFileSync(join(dir, 'master.cf'), '');
  const r = spawnSync('postconf', ['-c', dir, 'smtpd_delay_reject', 'smtpd_client_restrictions', 'smtpd_data_restrictions'], { encoding: 'utf8' });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, [
    'smtpd_delay_reject = no',
    'smtpd_client_restrictions = static:{421 4.3.2 Service shutting down, try again later}',
    'smtpd_data_restrictions = reject_unauth_pipelining',
    '',
  ].join('\n'));
});

// What Dovecot 2.3.19's `doveadm proxy list` printed on a proxy with IMAP and POP3 login processes and no session:
// a header of its own and one more for each login process that answered.
const NO_SESSION = [
  'username                    proto   src ip dest ip port     ',
  'username                    service src-ip dest-ip dest-port',
  'username                    service src-ip dest-ip dest-port',
  'username                    service src-ip dest-ip dest-port',
  '',
].join('\n');

test('GIVEN doveadm proxy list with no session but a header per login process WHEN its rows are read THEN there are none', () => {
  assert.deepEqual(doveadmRows(NO_SESSION), []);
});

test('GIVEN doveadm proxy list with one proxied session WHEN its rows are read THEN that session is the one row', () => {
  const row = 'user1@example.com                imap  127.0.0.1 127.140.0.7 143 ';
  assert.deepEqual(doveadmRows(`username                         proto src ip    dest ip     port\n${row}\n`), [row]);
});
