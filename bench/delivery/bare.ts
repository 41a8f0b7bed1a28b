/**
 * The anchor: one Postfix delivering over LMTP straight into one Dovecot, no LDAP, no director, no policy.
 *
 * Both configs are rendered by mailfleet's own generators (the `mta` main.cf/master.cf and the `mailbox`
 * dovecot.conf) and then only the lookups are swapped: Postfix gets a hash map of mailboxes instead of LDAP and
 * an LMTP next hop that is the Dovecot itself; Dovecot gets a passwd-file passdb/userdb instead of LDAP. Every
 * tuning setting is therefore the same on both paths, and stays the same when the generators change.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LEARN_FILES, roleConfigFiles, servedCertificateFile, servedCertificatesDir, type ConfigInput, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { generateSecret, PLATFORM_SECRETS, quotaBytes, withSecrets, type PlatformSpec } from '../../src/spec/index.ts';
import { installBackendTls, installLearnFiles } from '../../src/agent/index.ts';
import { startDaemon, stopDaemon, waitGreeting } from '../support/processes.ts';
import type { BenchSpec } from './spec.ts';
import type { Helpers } from './filter.ts';
import type { Defer, DeliveryTarget } from './target.ts';

const run = promisify(execFile);

/** Where the bare pair listens: outside the full platform's address pool. */
export interface BareAddresses {
  postfix: string;
  dovecot: string;
}

/** The bare pair of the unfiltered bench, beside the full platform's pool 127.90.0.0/16. */
export const BARE_ADDRESSES: BareAddresses = { postfix: '127.91.0.1', dovecot: '127.91.0.2' };

/**
 * What the filtered mode adds to the bare pair (see filter.ts): a milter Postfix asks for every message, and the
 * daemons behind it, started before Postfix and stopped after it.
 */
export interface BareFilter {
  start(root: string, logs: string, defer: Defer, signal: AbortSignal): Promise<Helpers & { milter: string; rspamd: string }>;
}

export interface BareOptions {
  addresses: BareAddresses;
  filter?: BareFilter;
}
const POSTFIX_MASTER = '/usr/lib/postfix/sbin/master';
const DOVECOT = '/usr/sbin/dovecot';
const VMAIL = 'vmail';
const READY_TIMEOUT_MS = 30_000;

function account(name: string): Promise<{ uid: number; gid: number }> {
  return run('getent', ['passwd', name]).then(
    ({ stdout }) => {
      const f = stdout.trim().split(':');
      return { uid: Number(f[2]), gid: Number(f[3]) };
    },
    (err: unknown) => {
      throw new Error(`system user ${name} is missing (bin/mailfleet up creates it once)`, { cause: err });
    },
  );
}

function dir(path: string, mode = 0o755, owner?: { uid: number; gid: number }): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  if (owner) chownSync(path, owner.uid, owner.gid);
  return path;
}

/** Peers of an instance that talks to no other role (the bare daemons' configs are rendered with none). */
export function noPeers(): Peers {
  return { ldap: [], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] };
}

/** Sets `key = value` lines of a main.cf; every key must already be there, so generator changes surface here. */
function overrideMainCf(text: string, overrides: Record<string, string>): string {
  let out = text;
  for (const [key, value] of Object.entries(overrides)) {
    const line = new RegExp(`^${key} = .*$`, 'm');
    if (!line.test(out)) throw new Error(`generated main.cf has no ${key}; update bench/delivery/bare.ts`);
    out = out.replace(line, `${key} = ${value}`);
  }
  return out;
}

/**
 * Replaces the generated LDAP `passdb { }` and `userdb { }` blocks of a dovecot.conf with `blocks`, and drops
 * the proxies' master login (no proxy logs in here).
 */
function replaceAuthBlocks(text: string, blocks: string): string {
  const pattern = /^(passdb|userdb) \{\n(?: {2}.*\n)*?\}\n/gm;
  const found = text.match(pattern) ?? [];
  const master = found.filter((b) => b.includes('  master = yes\n'));
  const ldap = found.filter((b) => b.includes('driver = ldap'));
  if (master.length !== 1 || ldap.length !== 2 || found.length !== 3) {
    throw new Error('generated dovecot.conf does not have one master passdb, one LDAP passdb and one LDAP userdb; update bench/delivery/bare.ts');
  }
  text = text.replace(master[0] ?? '', '');
  let first = true;
  return text.replace(pattern, () => {
    const keep = first ? blocks : '';
    first = false;
    return keep;
  });
}

/**
 * A milter as an administrator adds one: every message Postfix receives by SMTP, and none it makes itself. When the
 * milter cannot be asked the sender is told to retry (4xx): in a bench a filter that is not asked must not pass for
 * a fast one, and a deferred message shows as a stalled delivery.
 */
function milterLines(milter: string): string {
  return [`smtpd_milters = ${milter}`, 'non_smtpd_milters =', 'milter_protocol = 6', 'milter_default_action = tempfail', ''].join('\n');
}

function postfixFiles(spec: PlatformSpec, instance: InstanceContext, recipients: string[], dovecot: string, milter?: string): Record<string, string> {
  const peers = { ...noPeers(), proxy: [{ name: 'bare-dovecot', host: dovecot }] };
  const generated = roleConfigFiles('mta', { spec, instance, peers });
  const mainCf = generated['main.cf'];
  const masterCf = generated['master.cf'];
  if (mainCf === undefined || masterCf === undefined) throw new Error('mta generator returned no main.cf/master.cf');
  const nextHop = `lmtp:inet:[${dovecot}]:${spec.ports.lmtp}`;
  if (/^smtpd_milters = /m.test(mainCf)) throw new Error('generated main.cf of an mta without an as peer has a milter; update bench/delivery/bare.ts');
  if (/check_policy_service/.test(mainCf)) throw new Error('generated main.cf of the bare mta asks a policy service; update bench/delivery/bare.ts');
  if (!mainCf.includes(`virtual_transport = ${nextHop}\n`)) throw new Error(`generated main.cf does not deliver to ${nextHop}`);
  return {
    // Every file the generator makes (header checks, TLS maps) as the mta has them; only the lookups differ.
    ...generated,
    'main.cf': overrideMainCf(mainCf, {
      virtual_mailbox_domains: spec.domains.join(' '),
      virtual_mailbox_maps: `hash:${instance.configDir}/mailboxes`,
    }) + (milter === undefined ? '' : milterLines(milter)),
    'master.cf': masterCf,
    mailboxes: recipients.map((r) => `${r} ok\n`).join(''),
  };
}

/** `filter`: the bare rspamd's address, so the mailbox renders what it does while rspamd runs (Junk filing, learning). */
function dovecotFiles(spec: PlatformSpec, instance: InstanceContext, recipients: string[], filter?: string): Record<string, string> {
  const peers = filter === undefined ? noPeers() : { ...noPeers(), as: [{ name: 'bare-rspamd', host: filter }] };
  const input: ConfigInput = { spec, instance, peers };
  const generated = roleConfigFiles('mailbox', input);
  const conf = generated['dovecot.conf'];
  // The learning and Junk-filing files (only while rspamd runs), installed by installLearnFiles as the agent does.
  const learn = Object.fromEntries(LEARN_FILES.flatMap((name) => (generated[name] === undefined ? [] : [[name, generated[name]]])));
  if (conf === undefined) throw new Error('mailbox generator returned no dovecot.conf');
  const users = join(instance.configDir, 'users');
  const quota = quotaBytes(spec.accounts.generate[0]?.quota ?? '1G');
  const blocks = [
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${users}`,
    '}',
    'userdb {',
    '  driver = passwd-file',
    `  args = username_format=%u ${users}`,
    '}',
    '',
  ].join('\n');
  // user:password:uid:gid:gecos:home:shell:extra — uid/gid come from mail_uid/mail_gid as on the backends.
  const lines = recipients.map((r) => {
    const [local, domain] = r.split('@');
    return `${r}:{PLAIN}bench-password::::${instance.mailDir}/${domain}/${local}::userdb_quota_rule=*:bytes=${quota}\n`;
  });
  return { ...learn, 'dovecot.conf': replaceAuthBlocks(conf, blocks), users: lines.join('') };
}

function writeFiles(configDir: string, files: Record<string, string>): void {
  for (const [name, body] of Object.entries(files)) writeFileSync(join(configDir, name), body, { mode: 0o644 });
}

/**
 * The certificate the bare Postfix serves for STARTTLS, where the agents install theirs (key, then the
 * certificate, in one root-only file in the run dir): self-signed, with the platform's default key type
 * (ECDSA P-256), so both paths do the same handshake.
 */
async function serveSelfSigned(instance: InstanceContext, spec: PlatformSpec): Promise<void> {
  const dir = servedCertificatesDir(instance);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, 'self.key');
  const cert = join(dir, 'self.crt');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', key, '-out', cert,
    '-subj', `/CN=${spec.hostname}`, '-addext', `subjectAltName=DNS:${spec.hostname}`,
  ]);
  const name = spec.tls.certificates[0]?.name ?? 'default';
  writeFileSync(servedCertificateFile(instance, name), readFileSync(key, 'utf8') + readFileSync(cert, 'utf8'), { mode: 0o600 });
  rmSync(key);
  rmSync(cert);
}

/** Postfix reports why `check` failed only on a terminal: give it a pseudo-terminal, as the agent does. */
async function postfixCheck(configDir: string): Promise<void> {
  try {
    await run('script', ['-qec', `postfix -c ${configDir} check`, '/dev/null']);
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '').trim();
    throw new Error(`postfix check failed for ${configDir}: ${out}`, { cause: err });
  }
}

/**
 * Renders, starts and waits for the bare Postfix → Dovecot pair under `root` (with the filter's daemons between
 * them when `opts.filter` is given); `defer` receives its stop steps.
 */
export async function startBare(root: string, bench: BenchSpec, defer: Defer, signal: AbortSignal, opts: BareOptions): Promise<DeliveryTarget> {
  const { addresses } = opts;
  // The generators need the platform's secrets; the bare pair uses none of them (no LDAP, no director). The anchor
  // is Postfix → Dovecot LMTP alone: its Postfix asks no quota question at RCPT (rendered with the check on, it would
  // ask its Dovecot's quota-status directly, as the full path's relay asks the backends'), so the full path pays for
  // its quota check against an anchor that does not.
  const platformSpec = bench.platform.spec;
  const spec = withSecrets({ ...platformSpec, quota: { ...platformSpec.quota, checkAtRcpt: false } }, Object.fromEntries(PLATFORM_SECRETS.map((x) => [x.name, generateSecret()])));
  const vmail = await account(VMAIL);
  const postfixUser = await account('postfix');
  const logs = dir(join(root, 'logs'));
  const mailDir = dir(join(root, 'mail'), 0o770, vmail);

  const dovecot: InstanceContext = {
    role: 'mailbox',
    name: 'bare-dovecot',
    listen: addresses.dovecot,
    configDir: dir(join(root, 'dovecot', 'config')),
    dataDir: dir(join(root, 'dovecot', 'data')),
    runDir: dir(join(root, 'dovecot', 'run')),
    mailDir,
    tlsDir: join(root, 'tls'),
  };
  dir(join(dovecot.dataDir, 'state'), 0o750);
  const filter = await opts.filter?.start(join(root, 'filter'), logs, defer, signal);
  writeFiles(dovecot.configDir, dovecotFiles(spec, dovecot, bench.recipients, filter?.rspamd));
  // As the agent does on a backend: the sieve scripts in place and compiled (none without the filter), and the
  // certificate it serves the proxies (the bench's Postfix delivers over LMTP without TLS, as the full path's router does).
  await installLearnFiles(dovecot.configDir);
  installBackendTls(spec, dovecot, noPeers());

  const postfix: InstanceContext = {
    role: 'mta',
    name: 'bare-postfix',
    listen: addresses.postfix,
    configDir: dir(join(root, 'postfix', 'config')),
    dataDir: dir(join(root, 'postfix', 'data')),
    runDir: dir(join(root, 'postfix', 'run')),
    mailDir,
    tlsDir: join(root, 'tls'),
  };
  dir(join(postfix.dataDir, 'queue'));
  dir(join(postfix.dataDir, 'lib'), 0o700, postfixUser);
  writeFiles(postfix.configDir, postfixFiles(spec, postfix, bench.recipients, addresses.dovecot, filter?.milter));
  await serveSelfSigned(postfix, spec);
  await run('postmap', ['-c', postfix.configDir, `hash:${postfix.configDir}/mailboxes`]);
  await postfixCheck(postfix.configDir);

  const dovecotProc = startDaemon('bare dovecot', [DOVECOT, '-F', '-c', join(dovecot.configDir, 'dovecot.conf')], join(logs, 'dovecot.log'));
  defer('bare dovecot', () => stopDaemon(dovecotProc));
  await waitGreeting(addresses.dovecot, spec.ports.lmtp, dovecotProc, READY_TIMEOUT_MS, signal);

  // `-s` keeps stdout open so `maillog_file = /dev/stdout` lands in the log file.
  const postfixProc = startDaemon('bare postfix', [POSTFIX_MASTER, '-c', postfix.configDir, '-s'], join(logs, 'postfix.log'));
  defer('bare postfix', () => stopDaemon(postfixProc));
  await waitGreeting(addresses.postfix, spec.ports.smtp, postfixProc, READY_TIMEOUT_MS, signal);

  return {
    name: 'bare',
    smtpHost: addresses.postfix,
    smtpPort: spec.ports.smtp,
    mailRoot: mailDir,
    logs,
    cpuRoots: () => new Map([[dovecotProc.child.pid ?? 0, 'mailbox'], [postfixProc.child.pid ?? 0, 'mta'], ...(filter?.cpuRoots ?? [])]),
    processRoots: () => [dovecotProc.child.pid ?? 0, postfixProc.child.pid ?? 0, ...(filter?.processRoots ?? [])].filter((pid) => pid > 0),
  };
}
