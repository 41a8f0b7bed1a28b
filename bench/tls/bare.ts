/**
 * The anchor of the TLS bench: one Dovecot serving IMAPS straight from its own users file, no proxy, no
 * director, no LDAP. Its dovecot.conf is the `mailbox` generator's, with the TLS settings of the `proxy`
 * generator's (the same protocols, ciphers and certificate the platform serves) and an IMAPS listener;
 * the users file holds Argon2id hashes made with the spec's own parameters, so both paths verify the
 * same hash once per login.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { installCertificates } from '../../src/agent/index.ts';
import { hashPasswords, roleConfigFiles, type ConfigInput, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import type { Defer } from '../support/cleanup.ts';
import { startDaemon, stopDaemon, type Started } from '../support/processes.ts';

const run = promisify(execFile);

/** Outside the full platform's pool (127.90.0.0/16) and the delivery bench's bare pair (127.91.0.1-2). */
export const BARE_IMAPS_ADDRESS = '127.91.0.3';
const DOVECOT = '/usr/sbin/dovecot';
const READY_TIMEOUT_MS = 30_000;

function noPeers(): Peers {
  return { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] };
}

/** The TLS lines of the generated proxy config (`ssl…` settings, top level only), which the bare Dovecot takes over. */
function proxyTlsSettings(spec: PlatformSpec, instance: InstanceContext): string[] {
  const proxy = roleConfigFiles('proxy', { spec, instance: { ...instance, role: 'proxy' }, peers: noPeers() })['dovecot.conf'] ?? '';
  const lines = proxy.split('\n').filter((l) => /^ssl(_[a-z_]+)? = /.test(l));
  if (!lines.includes('ssl = yes')) throw new Error('the generated proxy dovecot.conf does not serve TLS (no top-level "ssl = yes"); update bench/tls/bare.ts');
  return lines;
}

function dovecotConf(spec: PlatformSpec, instance: InstanceContext): string {
  // The master-user passdb that needs this secret is replaced below by the users file.
  const input: ConfigInput = { spec: withSecrets(spec, { backendLoginPassword: 'unused-by-the-bare-dovecot' }), instance, peers: noPeers() };
  const conf = roleConfigFiles('mailbox', input)['dovecot.conf'] ?? '';
  const users = join(instance.configDir, 'users');
  const auth = /^passdb \{\n(?: {2}.*\n)*?\}\n/gm;
  const userdb = /^userdb \{\n(?: {2}.*\n)*?\}\n/gm;
  if (!/^ssl = no$/m.test(conf) || !/inet_listener imaps \{\n {4}address = .*\n {4}port = 0\n/.test(conf)) {
    throw new Error('the generated mailbox dovecot.conf changed shape (ssl = no, an imaps listener on port 0); update bench/tls/bare.ts');
  }
  return conf
    .replace(/^ssl = no$/m, proxyTlsSettings(spec, instance).join('\n'))
    .replace(/(inet_listener imaps \{\n {4}address = .*\n) {4}port = 0\n/, `$1    port = ${spec.ports.imaps}\n    ssl = yes\n`)
    .replace(auth, '')
    .replace(userdb, [
      'passdb {',
      '  driver = passwd-file',
      `  args = username_format=%u ${users}`,
      '}',
      'userdb {',
      '  driver = passwd-file',
      `  args = username_format=%u ${users}`,
      '}',
      '',
    ].join('\n'));
}

/** Waits until Dovecot greets on its plain IMAP port. */
async function waitImap(host: string, port: number, proc: Started, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let gone = false;
  void proc.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    if (gone) throw new Error(`${proc.name} exited before ${host}:${port} answered`);
    const line = await new Promise<string>((resolve) => {
      const socket = connect({ host, port, timeout: 2000 });
      socket.setEncoding('latin1');
      socket.once('data', (d: string) => {
        socket.destroy();
        resolve(d);
      });
      socket.on('timeout', () => socket.destroy());
      socket.on('error', () => resolve(''));
      socket.on('close', () => resolve(''));
    });
    if (line.startsWith('* OK')) return;
    await delay(200);
  }
  throw new Error(`${proc.name}: ${host}:${port} not ready after ${READY_TIMEOUT_MS / 1000} s`);
}

export interface BareImaps {
  host: string;
  port: number;
  pid: number;
}

/**
 * Starts the bare Dovecot under `root` with the certificate and key the platform serves (`certDir` holds
 * tls.crt and tls.key), installed as the agent installs them, and `users` (address → password) in its users file.
 */
export async function startBareImaps(root: string, spec: PlatformSpec, certDir: string, users: Map<string, string>, defer: Defer, signal: AbortSignal): Promise<BareImaps> {
  const { stdout } = await run('getent', ['passwd', 'vmail']);
  const [uid, gid] = stdout.trim().split(':').slice(2, 4).map(Number);
  const dir = (path: string, mode = 0o755): string => {
    mkdirSync(path, { recursive: true });
    chmodSync(path, mode);
    return path;
  };
  const tlsDir = dir(join(root, 'tls'), 0o700);
  dir(join(tlsDir, 'default'), 0o700);
  copyFileSync(join(certDir, 'tls.crt'), join(tlsDir, 'default', 'tls.crt'));
  copyFileSync(join(certDir, 'tls.key'), join(tlsDir, 'default', 'tls.key'));
  const instance: InstanceContext = {
    role: 'mailbox',
    name: 'bare-imaps',
    listen: BARE_IMAPS_ADDRESS,
    configDir: dir(join(root, 'config')),
    dataDir: dir(join(root, 'data')),
    runDir: dir(join(root, 'run')),
    mailDir: dir(join(root, 'mail'), 0o770),
    tlsDir,
  };
  // What the platform's agent does before its daemon starts: the served copy the TLS settings name.
  installCertificates(spec, instance);
  await run('chown', [`${uid}:${gid}`, instance.mailDir]);
  dir(join(instance.dataDir, 'state'), 0o750);
  const addresses = [...users.keys()];
  const hashes = await hashPasswords(addresses.map((a) => users.get(a) ?? ''), spec.accounts.passwordHash);
  const lines = addresses.map((a, i) => {
    const [local, domain] = a.split('@');
    return `${a}:${hashes[i] ?? ''}::::${instance.mailDir}/${domain}/${local}::\n`;
  });
  writeFileSync(join(instance.configDir, 'users'), lines.join(''), { mode: 0o644 });
  writeFileSync(join(instance.configDir, 'dovecot.conf'), dovecotConf(spec, instance), { mode: 0o644 });
  const proc = startDaemon('bare dovecot (imaps)', [DOVECOT, '-F', '-c', join(instance.configDir, 'dovecot.conf')], join(root, 'dovecot.log'));
  defer('bare dovecot (imaps)', () => stopDaemon(proc));
  await waitImap(BARE_IMAPS_ADDRESS, spec.ports.imap, proc, signal);
  return { host: BARE_IMAPS_ADDRESS, port: spec.ports.imaps, pid: proc.child.pid ?? 0 };
}
