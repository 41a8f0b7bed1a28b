/**
 * The single host's state directory keeps its controls, logs, secrets and mail from the host's other users,
 * while the daemons running as vmail, postfix, openldap and redis still reach their parts of it by name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startPlatform } from '../support/platform.ts';

const POOL = '127.161.0.0/16';

const mode = (path: string): number => lstatSync(path).mode & 0o777;
const octal = (path: string): string => mode(path).toString(8);

/** Runs `argv` as the unprivileged user `nobody`. */
function asNobody(argv: string[]): { status: number | null; stderr: string } {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', ...argv], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Connects to a unix socket as `nobody`: prints the error code, or CONNECTED. */
const CONNECT = "require('node:net').connect(process.argv[1]).on('connect', () => { console.error('CONNECTED'); process.exit(0); }).on('error', (e) => { console.error(e.code); process.exit(3); })";

test('the state directory keeps controls, logs, secrets and mail from other local users', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 1, roles: { ldap: 1, kvs: 1, mta: 1, mailbox: 1, proxy: 1, msa: 0 } });
  const state = platform.stateDir;
  const logs = join(state, 'logs');
  const control = join(state, 'control.sock');

  await t.test('WHEN up has started every instance THEN the control socket is a socket of mode 0600 owned by root', () => {
    const st = lstatSync(control);
    assert.ok(st.isSocket());
    assert.equal(mode(control), 0o600, octal(control));
    assert.equal(st.uid, 0);
  });

  await t.test('THEN the logs dir is 0700 and the runtime\'s and every instance\'s log in it 0600', async () => {
    assert.equal(mode(logs), 0o700, octal(logs));
    const files = readdirSync(logs);
    for (const name of ['runtime.log', ...(await platform.status()).map((i) => `${i.name}.log`)]) assert.ok(files.includes(name), `${name} in ${files.join(', ')}`);
    for (const name of files) assert.equal(mode(join(logs, name)), 0o600, `${name}: ${octal(join(logs, name))}`);
  });

  await t.test('THEN the generated secrets and the effective spec are 0600', () => {
    for (const name of ['secrets.json', 'spec.json']) assert.equal(mode(join(state, name)), 0o600, `${name}: ${octal(join(state, name))}`);
  });

  await t.test('THEN the state dir and its data dir are searchable by others but not listable, and mail storage is closed to them', () => {
    for (const dir of [state, join(state, 'data')]) assert.equal(mode(dir) & 0o007, 0o001, `${dir}: ${octal(dir)}`);
    const mail = join(state, 'data', 'mail-storage');
    assert.ok(statSync(mail).isDirectory());
    assert.equal(mode(mail) & 0o007, 0, `${mail}: ${octal(mail)}`);
  });

  await t.test('GIVEN the unprivileged user nobody WHEN it reads a log, lists the state dir or lists the data dir THEN each is refused', async () => {
    const [first] = await platform.status();
    assert.ok(first);
    for (const argv of [['cat', join(logs, `${first.name}.log`)], ['cat', join(logs, 'runtime.log')], ['ls', state], ['ls', join(state, 'data')]]) {
      const r = asNobody(argv);
      assert.notEqual(r.status, 0, `nobody ran ${argv.join(' ')}`);
      assert.match(r.stderr, /Permission denied/, argv.join(' '));
    }
  });

  await t.test('GIVEN the unprivileged user nobody WHEN it connects to the control socket THEN it is refused (EACCES), while root is answered', async () => {
    const r = asNobody([process.execPath, '-e', CONNECT, control]);
    assert.equal(r.stderr.trim(), 'EACCES');
    assert.equal(r.status, 3);
    assert.ok((await platform.status()).length >= 4, 'root still gets the status');
  });

  await t.test('THEN every instance is still ready: the daemons reach their parts of the state dir', async () => {
    for (const instance of await platform.status()) assert.equal(instance.ready, true, instance.name);
  });
});
