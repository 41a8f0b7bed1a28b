/**
 * The anchor of the TLS bench: one Dovecot serving IMAPS itself, no proxy, no director, as an ISP would run a
 * single mail server against its LDAP. Its dovecot.conf is the `mailbox` generator's (accounts from the
 * platform's own LDAP, the same Argon2id hashes, the same auth cache and workers) without the proxies' master
 * login, with the TLS settings of the `proxy` generator's (the same protocols, ciphers and certificate the
 * platform serves) and an IMAPS listener.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { roleConfigFiles, servedCertificateFile, servedCertificatesDir, type ConfigInput, type InstanceContext } from '../../src/config/index.ts';
import { PLATFORM_SECRETS, withSecrets, type PlatformSecretValues, type PlatformSpec } from '../../src/spec/index.ts';
import { noPeers } from '../delivery/bare.ts';
import type { Defer } from '../support/cleanup.ts';
import { startDaemon, stopDaemon, type Started } from '../support/processes.ts';

const run = promisify(execFile);

/** Outside the full platform's pool (127.90.0.0/16) and the delivery bench's bare pair (127.91.0.1-2). */
export const BARE_IMAPS_ADDRESS = '127.91.0.3';
const DOVECOT = '/usr/sbin/dovecot';
const READY_TIMEOUT_MS = 30_000;

const TOP_LEVEL_SSL = /^ssl(_[a-z_]+)? = /;

/**
 * The TLS lines of the generated proxy config (`ssl…` settings, top level only), which the bare Dovecot takes over;
 * not the proxy's trust in the backends (`ssl_ca`, `ssl_require_crl`), which a server that logs in nowhere has no use for.
 */
function proxyTlsSettings(spec: PlatformSpec, instance: InstanceContext): string[] {
  const proxy = roleConfigFiles('proxy', { spec, instance: { ...instance, role: 'proxy' }, peers: noPeers() })['dovecot.conf'] ?? '';
  const lines = proxy.split('\n').filter((l) => TOP_LEVEL_SSL.test(l) && !/^ssl_(ca|require_crl) = /.test(l));
  if (!lines.includes('ssl = yes')) throw new Error('the generated proxy dovecot.conf does not serve TLS (no top-level "ssl = yes"); update bench/tls/bare.ts');
  return lines;
}

function dovecotFiles(spec: PlatformSpec, instance: InstanceContext, ldap: string): Record<string, string> {
  const input: ConfigInput = { spec, instance, peers: { ...noPeers(), ldap: [{ name: 'ldap-0', host: ldap }] } };
  const files = roleConfigFiles('mailbox', input);
  const conf = files['dovecot.conf'] ?? '';
  const masterLogin = /^passdb \{\n {2}driver = static\n {2}master = yes\n(?: {2}.*\n)*?\}\n/m;
  if (!/^ssl = yes$/m.test(conf) || !/inet_listener imaps \{\n {4}address = .*\n {4}port = 0\n/.test(conf) || !masterLogin.test(conf)) {
    throw new Error('the generated mailbox dovecot.conf changed shape (ssl = yes for the proxies, an imaps listener on port 0, the master passdb); update bench/tls/bare.ts');
  }
  // The backend's TLS (its certificate for the proxies) gives way to the proxy's, which clients see.
  const lines = conf.split('\n');
  const first = lines.findIndex((l) => TOP_LEVEL_SSL.test(l));
  const dovecotConf = [...lines.slice(0, first), ...proxyTlsSettings(spec, instance), ...lines.slice(first).filter((l) => !TOP_LEVEL_SSL.test(l))].join('\n')
    .replace(/(inet_listener imaps \{\n {4}address = .*\n) {4}port = 0\n/, `$1    port = ${spec.ports.imaps}\n    ssl = yes\n`)
    .replace(masterLogin, '')
    // Clients log in here directly, over TLS: plaintext logins are refused as on the proxy.
    .replace(/^disable_plaintext_auth = no$/m, 'disable_plaintext_auth = yes');
  return { ...files, 'dovecot.conf': dovecotConf };
}

/** The platform's secrets from its state directory (the bare Dovecot binds to the same LDAP). */
function platformSecrets(stateDir: string): PlatformSecretValues {
  const stored = JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  return Object.fromEntries(PLATFORM_SECRETS.filter((s) => stored[s.key] !== undefined).map((s) => [s.name, stored[s.key]]));
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
 * Starts the bare Dovecot under `root`, reading accounts from the platform's LDAP at `ldap` and serving the
 * certificate the platform serves (the platform under `stateDir`; installed as its agents install it).
 */
export async function startBareImaps(root: string, platformSpec: PlatformSpec, stateDir: string, ldap: string, defer: Defer, signal: AbortSignal): Promise<BareImaps> {
  const spec = withSecrets(platformSpec, platformSecrets(stateDir));
  const certDir = join(stateDir, 'tls', 'certs', spec.tls.certificates[0]?.name ?? 'default');
  const { stdout } = await run('getent', ['passwd', 'vmail']);
  const [uid, gid] = stdout.trim().split(':').slice(2, 4).map(Number);
  const dir = (path: string, mode = 0o755): string => {
    mkdirSync(path, { recursive: true });
    chmodSync(path, mode);
    return path;
  };
  const tlsDir = dir(join(root, 'tls'), 0o700);
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
  await run('chown', [`${uid}:${gid}`, instance.mailDir]);
  // What the platform's agents serve: the key, then the chain, in one root-only file.
  dir(servedCertificatesDir(instance), 0o700);
  const served = servedCertificateFile(instance, spec.tls.certificates[0]?.name ?? 'default');
  writeFileSync(served, readFileSync(join(certDir, 'tls.key'), 'utf8') + readFileSync(join(certDir, 'tls.crt'), 'utf8'), { mode: 0o600 });
  dir(join(instance.dataDir, 'state'), 0o750);
  // Root's only: they hold the LDAP bind password, as the platform's config files do.
  for (const [name, body] of Object.entries(dovecotFiles(spec, instance, ldap))) writeFileSync(join(instance.configDir, name), body, { mode: 0o600 });
  const proc = startDaemon('bare dovecot (imaps)', [DOVECOT, '-F', '-c', join(instance.configDir, 'dovecot.conf')], join(root, 'dovecot.log'));
  defer('bare dovecot (imaps)', () => stopDaemon(proc));
  await waitImap(BARE_IMAPS_ADDRESS, spec.ports.imap, proc, signal);
  return { host: BARE_IMAPS_ADDRESS, port: spec.ports.imaps, pid: proc.child.pid ?? 0 };
}
