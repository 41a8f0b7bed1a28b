/**
 * The servers the bench measures, each started fresh for every run in its own directory, on its own address of
 * the bench's pool (127.118.0.0/16), with the bench's rule (`rule.ts`):
 *
 * - noop: `bench/policy/noop.ts`, the ceiling;
 * - postfwd: Debian's postfwd2 1.35 (what /usr/sbin/postfwd points to), with the Debian service's arguments;
 * - policyd-rate-limit: Debian's 1.0.1, SQLite backend (on disk, or where --policyd-db puts it), in the foreground;
 * - mailfleet: `mailfleet policy` with a redis-server of its own.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { redisTlsPath, roleConfigFiles, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { issueInternalCertificate, redisCa } from '../../src/internal-tls/index.ts';
import { redisPing as ping } from '../../src/protocol/index.ts';
import { parseSpec, ROLES } from '../../src/spec/index.ts';
import { parseMetrics, scrape, total } from '../exporter/metrics.ts';
import type { Defer } from '../support/cleanup.ts';
import { assertNothingListens, startDaemon, stopDaemon, stopProcessTree, waitListening, type Started } from '../support/processes.ts';
import { mailfleetRules, policydConfig, postfwdRules } from './rule.ts';

export const SERVER_NAMES = ['noop', 'postfwd', 'policyd-rate-limit', 'mailfleet'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];
export const ANCHORS: readonly ServerName[] = ['postfwd', 'policyd-rate-limit'];

const POLICY_PORT = 10040;
export const ADDRESSES: Record<ServerName, string> = {
  noop: '127.118.0.1',
  postfwd: '127.118.0.2',
  'policyd-rate-limit': '127.118.0.3',
  mailfleet: '127.118.0.4',
};
const MAILFLEET_METRICS = { host: '127.118.0.4', port: 9040 };
const REDIS_HOST = '127.118.0.5';

export const BINARIES = {
  postfwd: '/usr/sbin/postfwd2',
  'policyd-rate-limit': '/usr/bin/policyd-rate-limit',
  redis: '/usr/bin/redis-server',
} as const;
/**
 * The arguments Debian's postfwd service passes (`/etc/default/postfwd`). Its request cache stays off whatever
 * `--cache` says: postfwd turns it off itself when a rule uses rate() (without `--fast_limit_evaluation`).
 */
const POSTFWD_DEBIAN_ARGS = ['--summary=600', '--cache=600', '--cache-rdomain-only', '--cache-no-size'];
const NOOP = fileURLToPath(new URL('./noop.ts', import.meta.url));
export const MAILFLEET_CLI = fileURLToPath(new URL('../../bin/mailfleet', import.meta.url));
const START_TIMEOUT_MS = 30_000;

export interface Running {
  /** Roots of the process trees that are the server (measured). */
  roots(): number[];
  /** Processes that serve it without being it (mailfleet's Redis): measured and shown apart. */
  helpers(): { name: string; roots: number[] }[];
  /** What the server says about the run once the load has stopped (mailfleet: requests judged, failed open). */
  afterRun(): Promise<ServerCounts | undefined>;
}

/** mailfleet's own counts from its /metrics; undefined fields: the family was not there. */
export interface ServerCounts {
  answered: number | undefined;
  failedOpen: number | undefined;
}

export interface ServerUnderTest {
  name: ServerName;
  host: string;
  port: number;
  /** Evaluates the bench's rule (the no-op does not). */
  hasRule: boolean;
  /** Starts it in `dir`; `defer` gets the steps that stop what it started. */
  start(dir: string, defer: Defer, signal: AbortSignal): Promise<Running>;
}

const alive = (p: Started) => () => p.child.exitCode === null && p.child.signalCode === null;
const pidOf = (p: Started) => p.child.pid ?? -1;

/** Starts `argv` as a foreground daemon logging to `dir/NAME.log`, stopped by `defer` on any exit of the bench. */
function foreground(name: string, argv: string[], dir: string, defer: Defer): Started {
  const proc = startDaemon(name, argv, join(dir, `${name}.log`));
  defer(name, () => stopDaemon(proc));
  return proc;
}

const noop: ServerUnderTest = {
  name: 'noop',
  host: ADDRESSES.noop,
  port: POLICY_PORT,
  hasRule: false,
  async start(dir, defer, signal) {
    const proc = foreground('noop', [process.execPath, NOOP, this.host, String(this.port)], dir, defer);
    await waitListening('noop', this.host, this.port, alive(proc), START_TIMEOUT_MS, signal);
    return { roots: () => [pidOf(proc)], helpers: () => [], afterRun: async () => undefined };
  },
};

async function readPidFile(file: string, timeoutMs: number, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
    if (Number.isInteger(pid) && pid > 0) return pid;
    if (Date.now() > deadline) throw new Error(`${file}: no pid after ${timeoutMs / 1000} s`);
    await delay(50);
  }
}

/**
 * postfwd2 has no foreground mode: it forks into the background (master, cache daemon, policy daemon and its
 * pre-forked children) and leaves the master's pid in `--pidfile`; SIGTERM to the master stops them all. It runs
 * as Debian's `postfw` user; its cache socket lives in a directory of that user.
 */
const postfwd: ServerUnderTest = {
  name: 'postfwd',
  host: ADDRESSES.postfwd,
  port: POLICY_PORT,
  hasRule: true,
  async start(dir, defer, signal) {
    const { uid, gid } = userIds('postfw');
    const cacheDir = join(dir, 'cache');
    mkdirSync(cacheDir);
    chownSync(cacheDir, uid, gid);
    const rules = join(dir, 'postfwd.cf');
    writeFileSync(rules, postfwdRules());
    const pidFile = join(dir, 'postfwd.pid');
    const launcher = startDaemon('postfwd', [BINARIES.postfwd, ...POSTFWD_DEBIAN_ARGS, '--daemon', '--file', rules,
      '--interface', this.host, '--port', String(this.port), '--user', 'postfw', '--group', 'postfw', '--pidfile', pidFile,
      '--cache_proto', 'unix', '--cache_port', join(cacheDir, 'postfwd2-cache.socket')], join(dir, 'postfwd.log'));
    const master: { pid?: number } = {};
    defer('postfwd', async () => {
      await stopDaemon(launcher);
      if (master.pid !== undefined) await stopProcessTree(master.pid);
    });
    const code = await launcher.exited;
    if (code !== 0) throw new Error(`postfwd exited with status ${code} while starting (see ${join(dir, 'postfwd.log')})`);
    const pid = await readPidFile(pidFile, START_TIMEOUT_MS, signal);
    master.pid = pid;
    const masterAlive = () => existsSync(`/proc/${pid}`);
    await waitListening('postfwd', this.host, this.port, masterAlive, START_TIMEOUT_MS, signal);
    return { roots: () => [pid], helpers: () => [], afterRun: async () => undefined };
  },
};

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`user ${name} is missing (the Debian package creates it)`);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * policyd-rate-limit: one Python process in the foreground (`-f CONFIG`), started as root, running as its Debian
 * user. Its SQLite database lives in the run's directory, on disk as Debian's /var/lib/policyd-rate-limit is,
 * unless `dbDir` names another place (a tmpfs such as /dev/shm: no fsync cost on commit).
 */
function policyd(dbDir: string | undefined): ServerUnderTest {
  return {
    name: 'policyd-rate-limit',
    host: ADDRESSES['policyd-rate-limit'],
    port: POLICY_PORT,
    hasRule: true,
    async start(dir, defer, signal) {
      let base = dir;
      if (dbDir !== undefined) {
        base = mkdtempSync(join(dbDir, 'mailfleet-bench-policy-db-'));
        chmodSync(base, 0o755);
        defer('policyd-rate-limit database', async () => rmSync(base, { recursive: true, force: true }));
      }
      const config = join(dir, 'policyd-rate-limit.yaml');
      // Both directories are created (and given to its user) by policyd-rate-limit itself.
      writeFileSync(config, policydConfig({ pidfile: join(dir, 'run', 'policyd-rate-limit.pid'), database: join(base, 'db', 'db.sqlite3') }, this));
      const proc = foreground('policyd-rate-limit', [BINARIES['policyd-rate-limit'], '-f', config], dir, defer);
      await waitListening('policyd-rate-limit', this.host, this.port, alive(proc), START_TIMEOUT_MS, signal);
      return { roots: () => [pidOf(proc)], helpers: () => [], afterRun: async () => undefined };
    },
  };
}

/** The Redis AUTH and PING dialogue once, over TLS trusting `ca` (plaintext without); resolves with whether it answered +OK and +PONG. */
function redisPing(host: string, port: number, password: string, ca: string | undefined): Promise<boolean> {
  return ping({ host, port, password, timeoutMs: 1000, ...(ca === undefined ? {} : { tls: { mode: 'implicit' as const, ca, minVersion: 'TLSv1.3' as const } }) }).then(() => true, () => false);
}

/** mailfleet's counts from its /metrics. */
async function mailfleetCounts(): Promise<ServerCounts> {
  const m = parseMetrics(await scrape(MAILFLEET_METRICS.host, MAILFLEET_METRICS.port));
  return { answered: total(m, 'mailfleet_policy_requests_total'), failedOpen: total(m, 'mailfleet_policy_fail_open_total') };
}

/**
 * The platform's `kvs` Redis config (`src/config/redis.ts`: append-only file, fsync every second, `requirepass`
 * a fresh random password as the platform's generated one is, TLS 1.3 only with a certificate of the CA derived from
 * it), rendered for the bench's address and a data directory in `dir`; returns the config file, where Redis listens,
 * a file holding the password (0600) and the CA.
 */
function kvsConfig(dir: string, plain: boolean): { file: string; host: string; port: number; password: string; passwordFile: string; ca: string | undefined } {
  const password = randomBytes(24).toString('base64url');
  const yaml = 'apiVersion: mailfleet.io/v1alpha1\nkind: MailPlatform\nmetadata: { name: bench-policy }\nspec:\n'
    + `  domains: [bench.test]\n  redis: { password: ${password} }\n`;
  const platform = parseSpec(yaml, 'policy bench spec');
  const dataDir = join(dir, 'kvs');
  mkdirSync(dataDir);
  const peers = Object.fromEntries(ROLES.map((r) => [r, []])) as unknown as Peers;
  const instance: InstanceContext = { role: 'kvs', name: 'kvs-0', listen: REDIS_HOST, configDir: dataDir, dataDir, runDir: dataDir, mailDir: dataDir, tlsDir: dataDir };
  const files = roleConfigFiles('kvs', { spec: platform.spec, peers, instance });
  const file = join(dataDir, 'redis.conf');
  const conf = files['redis.conf'] ?? '';
  // --redis-plain: the port in plaintext, as before TLS; nothing else changes.
  writeFileSync(file, plain ? conf.replace(/^port 0\n/m, '').replace(/^tls-port /m, 'port ').replace(/^tls-.*\n/gm, '') : conf, { mode: 0o600 });
  // Redis serves TLS only, as the kvs agent sets it up: a certificate of the CA derived from the password.
  const ca = redisCa(password);
  writeFileSync(redisTlsPath(instance), issueInternalCertificate(ca, { hosts: [REDIS_HOST], validityDays: 1 }).pem, { mode: 0o600 });
  const passwordFile = join(dir, 'redis-password');
  writeFileSync(passwordFile, password, { mode: 0o600 });
  return { file, host: REDIS_HOST, port: platform.spec.ports.redis, password, passwordFile, ca: plain ? undefined : ca.certPem };
}

/**
 * mailfleet: `mailfleet policy --listen … --redis … --rules FILE --metrics …`, with a redis-server of its own
 * configured as the platform's `kvs`. Ready when it accepts connections and its /metrics says Redis is up.
 */
function mailfleet(cli: string, redisPlain: boolean): ServerUnderTest {
  return {
    name: 'mailfleet',
    host: ADDRESSES.mailfleet,
    port: POLICY_PORT,
    hasRule: true,
    async start(dir, defer, signal) {
      const kvs = kvsConfig(dir, redisPlain);
      await assertNothingListens(kvs.host, kvs.port);
      await assertNothingListens(MAILFLEET_METRICS.host, MAILFLEET_METRICS.port);
      const redis = foreground('redis', [BINARIES.redis, kvs.file], dir, defer);
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(await redisPing(kvs.host, kvs.port, kvs.password, kvs.ca))) {
        signal.throwIfAborted();
        if (!alive(redis)()) throw new Error(`redis-server exited while starting (see ${join(dir, 'redis.log')})`);
        if (Date.now() > deadline) throw new Error(`redis-server not answering PING after ${START_TIMEOUT_MS / 1000} s`);
        await delay(50);
      }
      const rules = join(dir, 'rules.yaml');
      writeFileSync(rules, mailfleetRules());
      const proc = foreground('mailfleet', [cli, 'policy', '--listen', `${this.host}:${this.port}`, '--redis', `${kvs.host}:${kvs.port}`,
        '--redis-password-file', kvs.passwordFile, ...(kvs.ca === undefined ? [] : ['--redis-tls', 'platform']), '--rules', rules, '--metrics', `${MAILFLEET_METRICS.host}:${MAILFLEET_METRICS.port}`], dir, defer);
      await waitListening('mailfleet', this.host, this.port, alive(proc), START_TIMEOUT_MS, signal);
      // Requests before Redis is connected would be answered by the default action, unjudged: wait for it.
      for (;;) {
        signal.throwIfAborted();
        const up = await scrape(MAILFLEET_METRICS.host, MAILFLEET_METRICS.port, 1000).then((t) => total(parseMetrics(t), 'mailfleet_policy_redis_up'), () => 0);
        if (up === undefined || up >= 1) break;
        if (!alive(proc)()) throw new Error(`mailfleet exited while starting (see ${join(dir, 'mailfleet.log')})`);
        if (Date.now() > deadline) throw new Error(`mailfleet: its /metrics does not show Redis up after ${START_TIMEOUT_MS / 1000} s (see ${join(dir, 'mailfleet.log')})`);
        await delay(50);
      }
      return {
        roots: () => [pidOf(proc)],
        helpers: () => [{ name: 'redis', roots: [pidOf(redis)] }],
        afterRun: mailfleetCounts,
      };
    },
  };
}

export interface ServerChoices {
  /** The mailfleet CLI to run. */
  mailfleetCli: string;
  /** Where policyd-rate-limit's SQLite database goes instead of the run's directory. */
  policydDbDir: string | undefined;
  /** mailfleet's Redis in plaintext instead of TLS. */
  redisPlain: boolean;
}

export function serverFor(name: ServerName, choices: ServerChoices): ServerUnderTest {
  switch (name) {
    case 'noop': return noop;
    case 'postfwd': return postfwd;
    case 'policyd-rate-limit': return policyd(choices.policydDbDir);
    case 'mailfleet': return mailfleet(choices.mailfleetCli, choices.redisPlain);
  }
}

/** Throws unless the CLI has the policy command (its usage lists `mailfleet policy`); running it also builds dist/ when a source changed. */
export function assertMailfleetHasPolicy(cli: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cli, ['--help'], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${cli} --help failed: ${String(stderr).trim().split('\n').slice(-3).join(' ') || err.message}`));
      if (!/^\s*mailfleet policy\b/m.test(String(stdout))) {
        return reject(new Error(`${cli} has no \`policy\` command (its --help lists none); measure the others with --only noop,postfwd,policyd-rate-limit`));
      }
      resolve();
    });
  });
}
