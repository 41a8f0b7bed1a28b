/**
 * The filtered mode's daemons that are not mailfleet's: the bare path's rspamd, clamd and Redis, configured by
 * hand here as an administrator would (rspamd's stock rules and modules with a few `local.d` files, not
 * mailfleet's generators), a resolver on loopback for each path (unbound, answering NXDOMAIN for every name, so
 * no DNS query leaves loopback), and the signature database both clamds read (one `sigtool --md5` signature of
 * the ClamAV test file: no download).
 *
 * The settings that change what rspamd does with a message are the ones mailfleet's `as` renders from the bench's
 * spec (see spec.ts): the stock score thresholds, SPF, DKIM and DMARC checked for clients on loopback (every
 * client here is), DMARC's policy enforced, no DKIM or ARC signing of inbound mail, Authentication-Results,
 * X-Spam-Status and X-Virus added, greylisting off (or every message is deferred), the modules that need the
 * Internet off, clamd asked with the whole message, Redis for Bayes and history.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startDaemon, stopDaemon, waitListening, type Started } from '../support/processes.ts';
import type { Defer } from './target.ts';

const run = promisify(execFile);

const RSPAMD = '/usr/bin/rspamd';
const CLAMD = '/usr/sbin/clamd';
const REDIS = '/usr/bin/redis-server';
const UNBOUND = '/usr/sbin/unbound';
const SIGTOOL = '/usr/bin/sigtool';
/** Debian's packages' accounts. */
const RSPAMD_USER = '_rspamd';
const CLAMAV_USER = 'clamav';
/** The ClamAV test file (package clamav-testfiles): the one signature of the bench's database matches it. */
export const TEST_VIRUS_FILE = '/usr/share/clamav-testfiles/clam.exe';
export const TEST_VIRUS_NAME = 'Mailfleet-Bench-Virus';
/** Programs and files the filtered mode needs. */
export const FILTER_PREREQUISITES = [RSPAMD, CLAMD, REDIS, UNBOUND, SIGTOOL, TEST_VIRUS_FILE];
const READY_TIMEOUT_MS = 60_000;
export const DNS_PORT = 53;
export const MILTER_PORT = 11332;
export const CLAMD_PORT = 3310;
export const REDIS_PORT = 6379;

/** Where the bare filter daemons listen. */
export interface BareFilterAddresses {
  rspamd: string;
  clamd: string;
  redis: string;
  /** The bare path's resolver. */
  dns: string;
}

/** Daemons the bench started for a path: pid → component label (cpu.ts), and the pids to freeze with the path. */
export interface Helpers {
  cpuRoots: Map<number, string>;
  processRoots: number[];
}

async function uidOf(name: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('getent', ['passwd', name]).catch((err: unknown) => {
    throw new Error(`system user ${name} is missing (its Debian package creates it)`, { cause: err });
  });
  const f = stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function dir(path: string, mode = 0o755, owner?: { uid: number; gid: number }): string {
  mkdirSync(path, { recursive: true });
  chmodSync(path, mode);
  if (owner) chownSync(path, owner.uid, owner.gid);
  return path;
}

function write(path: string, lines: string[]): string {
  writeFileSync(path, [...lines, ''].join('\n'), { mode: 0o644 });
  return path;
}

const pid = (s: Started): number => s.child.pid ?? 0;
const alive = (s: Started) => () => s.child.exitCode === null && s.child.signalCode === null;

/** A directory clamd (as `clamav`) can read with one MD5 signature of the ClamAV test file, named TEST_VIRUS_NAME. */
export function signatureDirectory(parent: string): string {
  const out = dir(join(parent, 'signatures'));
  const [hash, size] = execFileSync(SIGTOOL, ['--md5', TEST_VIRUS_FILE], { encoding: 'utf8' }).trim().split(':');
  write(join(out, 'bench.hdb'), [`${hash}:${size}:${TEST_VIRUS_NAME}`]);
  return out;
}

/**
 * unbound on `host`:53 answering NXDOMAIN for every name from a static root zone: rspamd's SPF, DKIM, DMARC and
 * other lookups get an answer without leaving loopback. Its log goes to `logs`.
 */
export async function startResolver(root: string, logs: string, host: string, defer: Defer, signal: AbortSignal): Promise<Started> {
  const d = dir(join(root, 'unbound'));
  const conf = write(join(d, 'unbound.conf'), [
    'server:',
    `  interface: ${host}`,
    `  port: ${DNS_PORT}`,
    '  do-daemonize: no',
    '  use-syslog: no',
    '  logfile: ""',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${d}"`,
    '  pidfile: ""',
    '  do-ip6: no',
    '  num-threads: 1',
    '  access-control: 127.0.0.0/8 allow',
    '  local-zone: "." static',
    'remote-control:',
    '  control-enable: no',
  ]);
  const proc = startDaemon(`unbound ${host}`, [UNBOUND, '-d', '-c', conf], join(logs, 'unbound.log'));
  defer(`unbound ${host}`, () => stopDaemon(proc));
  await waitListening(`unbound ${host}`, host, DNS_PORT, alive(proc), READY_TIMEOUT_MS, signal);
  return proc;
}

/** Redis as rspamd's store, persisted as the platform's `kvs` is (append-only file, fsync every second). */
function redisConf(d: string, host: string): string {
  return write(join(d, 'redis.conf'), [
    `bind ${host}`, `port ${REDIS_PORT}`, 'protected-mode no', 'daemonize no', 'logfile ""', `dir ${d}`,
    'save ""', 'appendonly yes', 'appendfsync everysec',
  ]);
}

function clamdConf(d: string, host: string, signatures: string): string {
  return write(join(d, 'clamd.conf'), [
    'Foreground yes', 'LogSyslog no', `PidFile ${d}/clamd.pid`, `TemporaryDirectory ${d}`, `User ${CLAMAV_USER}`,
    `DatabaseDirectory ${signatures}`, `TCPAddr ${host}`, `TCPSocket ${CLAMD_PORT}`,
  ]);
}

/**
 * rspamd's configuration: a top-level file of our own (the stock one also starts a normal worker and a controller
 * on localhost) with the stock rules and modules and one worker, the milter (the proxy worker scanning itself);
 * `local.d` holds what differs from the package's defaults.
 */
function rspamdConfig(d: string, a: BareFilterAddresses, processes: number): void {
  write(join(d, 'rspamd.conf'), [
    '.include "$CONFDIR/common.conf"',
    'options {',
    '  pidfile = "$RUNDIR/rspamd.pid";',
    '  .include "$CONFDIR/options.inc"',
    '  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"',
    '}',
    'logging {',
    '  type = "console";',
    '  .include "$CONFDIR/logging.inc"',
    '  systemd = false;',
    '}',
    'worker "rspamd_proxy" {',
    `  bind_socket = "${a.rspamd}:${MILTER_PORT}";`,
    // The stock worker-proxy.inc's settings, but for its upstream (a normal worker on localhost): it scans itself.
    '  milter = yes;',
    '  timeout = 120s;',
    '  upstream "local" { default = yes; self_scan = yes; }',
    `  count = ${processes};`,
    '  discard_on_reject = false;',
    '  quarantine_on_reject = false;',
    '  spam_header = "X-Spam";',
    '}',
  ]);
  const local = dir(join(d, 'local.d'));
  const override = dir(join(d, 'override.d'));
  const file = (name: string, ...lines: string[]) => write(join(local, name), lines);
  file('options.inc', `dns { nameserver = ["${a.dns}:${DNS_PORT}"]; }`);
  file('redis.conf', `servers = "${a.redis}:${REDIS_PORT}";`);
  file('greylist.conf', 'enabled = false;');
  for (const m of ['spf', 'dkim']) file(`${m}.conf`, 'check_local = true;', 'check_authed = false;');
  file('dmarc.conf', 'check_local = true;', 'check_authed = false;', 'actions { reject = "reject"; quarantine = "add header"; }');
  file('dkim_signing.conf', 'sign_local = false;', 'sign_inbound = false;');
  file('arc.conf', 'sign_local = false;', 'sign_inbound = false;', 'sign_authenticated = false;');
  file('milter_headers.conf', 'use = ["authentication-results", "x-spam-status", "x-virus"];', 'skip_local = false;', 'skip_authenticated = true;',
    'routines { authentication-results { remove = 0; } x-virus { symbols = ["CLAM_VIRUS"]; } }');
  file('history_redis.conf', 'subject_privacy = true;');
  file('antivirus.conf', 'clamav {', '  type = "clamav";', `  servers = "${a.clamd}:${CLAMD_PORT}";`, '  scan_mime_parts = false;', '  symbol = "CLAM_VIRUS";',
    '  action = "reject";', '  message = \'${SCANNER}: virus found: "${VIRUS}"\';', '}');
  // No public reputation data: its modules off, and the maps rspamd would download read from the package.
  for (const m of ['asn', 'fuzzy_check', 'multimap', 'phishing', 'rbl', 'url_redirector', 'whitelist']) file(`${m}.conf`, 'enabled = false;');
  write(join(override, 'mime_types.conf'), ['file = ["${CONFDIR}/maps.d/mime_types.inc"];']);
  write(join(override, 'mid.conf'), ['source { url = ["${CONFDIR}/maps.d/mid.inc"]; }']);
}

/**
 * Starts the bare path's filter: its resolver, Redis, clamd on `signatures` and rspamd (`processes` scanning
 * workers, as mailfleet's `spec.filter.processes`), each waited for; `defer` receives their stop steps. Returns
 * the milter endpoint for Postfix and the daemons for the CPU table (rspamd `as`, clamd `av`, Redis `kvs`, unbound
 * `dns`, the labels of mailfleet's roles).
 */
export async function startBareFilter(root: string, logs: string, a: BareFilterAddresses, signatures: string, processes: number, defer: Defer, signal: AbortSignal): Promise<Helpers & { milter: string; rspamd: string }> {
  const unbound = await startResolver(root, logs, a.dns, defer, signal);

  const redisDir = dir(join(root, 'redis'), 0o700);
  const redis = startDaemon('bare redis', [REDIS, redisConf(redisDir, a.redis)], join(logs, 'redis.log'));
  defer('bare redis', () => stopDaemon(redis));
  await waitListening('bare redis', a.redis, REDIS_PORT, alive(redis), READY_TIMEOUT_MS, signal);

  const clamav = await uidOf(CLAMAV_USER);
  const clamdDir = dir(join(root, 'clamd'), 0o750, clamav);
  const clamd = startDaemon('bare clamd', [CLAMD, '--foreground', `--config-file=${clamdConf(clamdDir, a.clamd, signatures)}`], join(logs, 'clamd.log'));
  defer('bare clamd', () => stopDaemon(clamd));
  await waitListening('bare clamd', a.clamd, CLAMD_PORT, alive(clamd), READY_TIMEOUT_MS, signal);

  const rspamdUser = await uidOf(RSPAMD_USER);
  const conf = dir(join(root, 'rspamd', 'config'));
  const data = dir(join(root, 'rspamd', 'data'), 0o750, rspamdUser);
  const runDir = dir(join(root, 'rspamd', 'run'), 0o750, rspamdUser);
  rspamdConfig(conf, a, processes);
  const vars = [`LOCAL_CONFDIR=${conf}`, `DBDIR=${data}`, `RUNDIR=${runDir}`].map((v) => `--var=${v}`);
  const rspamd = startDaemon('bare rspamd', [RSPAMD, '--no-fork', '--config', join(conf, 'rspamd.conf'), '--user', RSPAMD_USER, '--group', RSPAMD_USER, ...vars], join(logs, 'rspamd.log'));
  defer('bare rspamd', () => stopDaemon(rspamd));
  await waitListening('bare rspamd', a.rspamd, MILTER_PORT, alive(rspamd), READY_TIMEOUT_MS, signal);

  const daemons: [Started, string][] = [[rspamd, 'as'], [clamd, 'av'], [redis, 'kvs'], [unbound, 'dns']];
  return {
    milter: `inet:${a.rspamd}:${MILTER_PORT}`,
    rspamd: a.rspamd,
    cpuRoots: new Map(daemons.map(([s, label]) => [pid(s), label])),
    processRoots: daemons.map(([s]) => pid(s)),
  };
}
