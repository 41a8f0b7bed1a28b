import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  accountChangeLdif, accountDn, accountLdif, authDn, hashPassword, hashPasswords, ldapTreeLdif, probeAccount, readerDn, roleConfigFiles,
  serviceAccountsChangeLdif, ssha, slapdConfigLdif, VMAIL_USER, type ConfigInput, type ServiceAccountHashes,
} from '../config/index.ts';
import { MailfleetError } from '../errors.ts';
import { demoAccounts, requireSecret, type AgentRole } from '../spec/index.ts';
import type { ConfigSource, Daemon, DaemonInput } from './daemon.ts';
import { clamd, rspamd } from './filter-daemons.ts';
import { chownTree, ensureDir, freshDir, writeConfigFiles } from './fs.ts';
import { installLearnFiles } from './learn-files.ts';
import { ldapiUrl } from './ldap-tls.ts';
import { reloadPostfix } from './postfix-reload.ts';

const run = promisify(execFile);

export const POSTFIX_MASTER = '/usr/lib/postfix/sbin/master';
export const DOVECOT = '/usr/sbin/dovecot';
export const SLAPD = '/usr/sbin/slapd';
export const REDIS = '/usr/bin/redis-server';

/** The single host's source: the pure generators. */
export const generatedConfig: ConfigSource = (input) => roleConfigFiles(input.instance.role, input);

export type { ConfigSource, Daemon, DaemonInput, UserSignal } from './daemon.ts';

/** Installs the role's config files (from `input.configSource`) in the config dir: root-owned, mode 0640, `group` may read. */
export function writeRoleConfig(input: DaemonInput, group?: string): void {
  writeConfigFiles(input.instance.configDir, (input.configSource ?? generatedConfig)(input), group);
}

/** Postfix tells why `check` failed only on a terminal or /dev/log: give it a pseudo-terminal. */
async function postfixCheck(configDir: string): Promise<void> {
  try {
    await run('script', ['-qec', `postfix -c ${configDir} check`, '/dev/null']);
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '').trim();
    throw new MailfleetError('INSTANCE_START_FAILED', `postfix check failed for ${configDir}: ${out}`, { cause: err });
  }
}

const postfix: Daemon = {
  async init(input) {
    const { dataDir, configDir } = input.instance;
    ensureDir(dataDir, 0o755);
    ensureDir(join(dataDir, 'queue'), 0o755);
    ensureDir(join(dataDir, 'lib'), 0o700, 'postfix');
    writeRoleConfig(input, 'postfix');
    await postfixCheck(configDir);
  },
  command: (input) => [POSTFIX_MASTER, '-c', input.instance.configDir, '-s'],
  async reload(input, pid) {
    writeRoleConfig(input, 'postfix');
    await reloadPostfix({ configDir: input.instance.configDir, masterPid: pid, log: input.log });
    // Peers moved (a proxy came back elsewhere): retry deferred mail now rather than at the next queue run.
    await run('postqueue', ['-c', input.instance.configDir, '-f']);
  },
  pidFiles: (input) => [join(input.instance.dataDir, 'queue', 'pid', 'master.pid')],
  // New smtpd processes read the installed files; those in a session exit when it ends.
  async reloadCertificates(input, pid) {
    await reloadPostfix({ configDir: input.instance.configDir, masterPid: pid, log: input.log });
  },
};

const dovecot: Daemon = {
  async init(input) {
    const { dataDir, runDir, mailDir, role } = input.instance;
    ensureDir(dataDir, 0o755);
    ensureDir(join(dataDir, 'state'), 0o750);
    freshDir(runDir, 0o755);
    if (role === 'mailbox') ensureDir(mailDir, 0o770, VMAIL_USER);
    writeRoleConfig(input);
    if (role === 'mailbox') await installLearnFiles(input.instance.configDir);
  },
  command: (input) => [DOVECOT, '-F', '-c', join(input.instance.configDir, 'dovecot.conf')],
  async reload(input, pid) {
    writeRoleConfig(input);
    if (input.instance.role === 'mailbox') await installLearnFiles(input.instance.configDir);
    process.kill(pid, 'SIGHUP');
  },
  pidFiles: (input) => [join(input.instance.runDir, 'master.pid')],
  // The config process reads the files anew; login processes with sessions open keep theirs until those end.
  async reloadCertificates(input) {
    await run('doveadm', ['-c', join(input.instance.configDir, 'dovecot.conf'), 'reload']);
  },
  userSignals: { SIGUSR1: 'reopens its logs' },
  // The master re-creates its UNIX sockets and starts a new generation of processes after each SIGHUP; one
  // more within that time left new login processes without their config socket.
  reloadSettleMs: 1000,
};

function slapdDirs(input: ConfigInput): { configDb: string; db: string } {
  return { configDb: join(input.instance.dataDir, 'slapd.d'), db: join(input.instance.dataDir, 'db') };
}

/**
 * An existing directory gets the service accounts as the secrets say now (added if missing, password
 * replaced otherwise), and so does the prober's account while the prober runs; offline, before slapd starts.
 */
async function syncPlatformAccounts(input: ConfigInput, configDb: string, hashes: ServiceAccountHashes): Promise<void> {
  const { spec, instance } = input;
  const probe = probeAccount(spec);
  const probeDn = probe === undefined ? undefined : accountDn(spec, probe.address).toLowerCase();
  const filter = `(|(cn=mailreader)(cn=mailauth)${probe === undefined ? '' : `(mail=${probe.address})`})`;
  const { stdout } = await run('slapcat', ['-o', 'ldif_wrap=no', '-n', '1', '-F', configDb, '-a', filter], { maxBuffer: 1 << 20 });
  const wanted = new Set([readerDn(spec), authDn(spec)].map((dn) => dn.toLowerCase()));
  const found = new Set(stdout.split('\n').filter((l) => l.startsWith('dn: ')).map((l) => l.slice(4).toLowerCase()));
  const existing = new Set([...found].filter((dn) => wanted.has(dn)));
  const changes = [serviceAccountsChangeLdif(spec, hashes, existing)];
  if (probe !== undefined && probeDn !== undefined) {
    changes.push(accountChangeLdif(spec, probe, await hashPassword(probe.password, spec.accounts.passwordHash), found.has(probeDn)));
  }
  const change = join(instance.runDir, 'platform-accounts.ldif');
  writeFileSync(change, changes.join('\n'), { mode: 0o600 });
  try {
    await run('slapmodify', ['-q', '-n', '1', '-F', configDb, '-l', change]);
  } finally {
    rmSync(change, { force: true });
  }
}

const slapd: Daemon = {
  async init(input) {
    const { spec, instance } = input;
    const { configDb, db } = slapdDirs(input);
    ensureDir(instance.dataDir, 0o750);
    freshDir(instance.runDir, 0o755);
    ensureDir(db, 0o700);
    // cn=config is rebuilt from the spec at every start; the directory data is kept.
    freshDir(configDb, 0o700);
    const configLdif = join(instance.configDir, 'slapd-config.ldif');
    writeConfigFiles(instance.configDir, { 'slapd-config.ldif': slapdConfigLdif(input, ssha(requireSecret(spec, 'ldapAdminPassword'))) });
    await run('slapadd', ['-n', '0', '-F', configDb, '-l', configLdif]);
    const service = { reader: ssha(requireSecret(spec, 'ldapReaderPassword')), auth: ssha(requireSecret(spec, 'ldapAuthPassword')) };
    if (!existsSync(join(db, 'data.mdb'))) {
      const seed = join(instance.runDir, 'seed.ldif');
      const probe = probeAccount(spec);
      const demo = [...demoAccounts(spec), ...(probe === undefined ? [] : [probe])];
      const hashes = await hashPasswords(demo.map((a) => a.password), spec.accounts.passwordHash);
      const accounts = demo.map((a, i) => accountLdif(spec, a, hashes[i] ?? ''));
      writeFileSync(seed, [ldapTreeLdif(spec, service), ...accounts].join('\n'), { mode: 0o600 });
      await run('slapadd', ['-q', '-n', '1', '-F', configDb, '-l', seed]);
      rmSync(seed);
    } else {
      await syncPlatformAccounts(input, configDb, service);
    }
    chownTree(instance.dataDir, 'openldap');
    chownTree(instance.runDir, 'openldap');
  },
  command: (input) => [
    // The agent's root-only socket, for its certificate renewals (ldap-tls.ts), beside the clients' port.
    SLAPD, '-d', 'stats', '-h', `ldap://${input.instance.listen}:${input.spec.ports.ldap}/ ${ldapiUrl(input.instance, { listener: true })}`,
    '-F', slapdDirs(input).configDb, '-u', 'openldap', '-g', 'openldap',
  ],
  async reload() {
    // slapd's config does not depend on peers.
  },
  pidFiles: (input) => [join(input.instance.runDir, 'slapd.pid')],
};

const redis: Daemon = {
  async init(input) {
    ensureDir(input.instance.dataDir, 0o750);
    freshDir(input.instance.runDir, 0o755);
    writeRoleConfig(input);
  },
  command: (input) => [REDIS, join(input.instance.configDir, 'redis.conf')],
  async reload() {
    // Redis's config does not depend on peers.
  },
  pidFiles: (input) => [join(input.instance.runDir, 'redis.pid')],
};

export const DAEMONS: Record<AgentRole, Daemon> = { mta: postfix, msa: postfix, mailbox: dovecot, proxy: dovecot, ldap: slapd, kvs: redis, as: rspamd, av: clamd };

/** Pid recorded in a pid file if that process still runs `exe` (pids get reused), else undefined. */
export function livePid(pidFile: string, exe: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    return readlinkSync(`/proc/${pid}/exe`) === exe ? pid : undefined;
  } catch {
    return undefined;
  }
}
