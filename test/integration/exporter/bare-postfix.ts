/**
 * A bare Postfix 3.7 for the exporter's tests: its own config and queue directories under a temporary
 * root, master in the foreground (`master -s`), its log in a file (`maillog_file`; /dev/stdout would be
 * the socket Node gives a child for a pipe, which postlogd cannot open); and smtp-sink peers. Everything is stopped after the test, even on failure: master is its own
 * process group leader, so the group is waited for (and killed if it lingers).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { until } from '../../support/poll.ts';

const run = promisify(execFile);
const MASTER = '/usr/lib/postfix/sbin/master';
const READY_MS = 30_000;
const STOP_MS = 10_000;

export interface BarePostfix {
  readonly configDir: string;
  /** The file Postfix logs to. */
  readonly logFile: string;
  readonly showqPath: string;
  /** master's process id. */
  readonly pid: number;
  /** Runs a Postfix admin command (postqueue, postsuper) on this instance; resolves with its stdout. */
  admin(program: 'postqueue' | 'postsuper', args: readonly string[]): Promise<string>;
}

/** Alive means: the group still has a member (a zombie not yet reaped counts until it is). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await Promise.race([exited, delay(STOP_MS, undefined, { ref: false })]);
  }
  const deadline = Date.now() + STOP_MS;
  while (groupAlive(pid) && Date.now() < deadline) await delay(50);
  if (groupAlive(pid)) process.kill(-pid, 'SIGKILL');
}

function reachable(host: string, port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** What every bare Postfix of the tests starts from: a relay for the test's own domains, no local delivery, IPv4. */
export const BASE_MAIN_CF = `
compatibility_level = 3.6
myhostname = mx.example.test
mydestination =
inet_interfaces = all
inet_protocols = ipv4
smtputf8_enable = no
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
`;

/** The services every bare Postfix of the tests runs; a test adds its listeners and delivery agents. */
export const BASE_MASTER_CF = `
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
showq unix n - n - - showq
postlog unix-dgram n - n - 1 postlogd
`;

/** An smtp-sink on `address` (`host:port`) with extra options (`-f RCPT`: refuse recipients for good; `-L`: LMTP). */
export async function startSink(t: TestContext, address: string, options: readonly string[] = []): Promise<void> {
  const child = spawn('/usr/sbin/smtp-sink', ['-u', 'postfix', ...options, address, '100'], { stdio: 'ignore' });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  });
  const [host = '', port = ''] = address.split(':');
  await until(`smtp-sink on ${address}`, () => reachable(host, Number(port)), READY_MS, 50);
}

/**
 * Writes `mainCf` (completed with the directories and the log file) and `masterCf`, checks the config,
 * starts master and waits until it says it started.
 */
export async function startPostfix(
  t: TestContext,
  options: { mainCf: string; masterCf: string; files?: Record<string, string> },
): Promise<BarePostfix> {
  const root = mkdtempSync(join(tmpdir(), 'mailfleet-postfix-'));
  // Postfix's daemons run as postfix: they must be able to reach the queue below the (0700) temporary root.
  chmodSync(root, 0o755);
  const running: { master?: ChildProcess } = {};
  // One hook, so that master is stopped before its directories go (it writes there while stopping).
  t.after(async () => {
    if (running.master !== undefined) await stopGroup(running.master);
    rmSync(root, { recursive: true, force: true });
  });
  const configDir = join(root, 'config');
  const queueDir = join(root, 'queue');
  const dataDir = join(root, 'data');
  for (const dir of [configDir, queueDir, dataDir]) mkdirSync(dir, { recursive: true });
  const postfixUser = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postfix:'))?.split(':');
  chownSync(dataDir, Number(postfixUser?.[2]), Number(postfixUser?.[3]));
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(configDir, name), text.replaceAll('@CONFIG@', configDir), { mode: 0o600 });
  const logFile = join(root, 'maillog');
  const head = [
    `queue_directory = ${queueDir}`, `data_directory = ${dataDir}`, `maillog_file = ${logFile}`, `maillog_file_prefixes = ${root}`,
    'mail_owner = postfix', 'setgid_group = postdrop',
  ];
  writeFileSync(join(configDir, 'main.cf'), `${[...head, options.mainCf.replaceAll('@CONFIG@', configDir)].join('\n')}\n`);
  writeFileSync(join(configDir, 'master.cf'), options.masterCf);
  // Postfix says why `check` failed only on a terminal.
  await run('script', ['-qec', `postfix -c ${configDir} check`, '/dev/null']).catch((err: { stdout?: string }) => {
    throw new Error(`postfix check failed: ${err.stdout ?? ''}`, { cause: err });
  });

  running.master = spawn(MASTER, ['-c', configDir, '-s'], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Master opens its listeners before it logs that it started; waiting for the line opens no session of ours.
  await until('Postfix to start', async () => (readLog(logFile).includes(' daemon started -- ') ? true : undefined), READY_MS, 50);
  return {
    configDir,
    logFile,
    showqPath: join(queueDir, 'public', 'showq'),
    pid: running.master.pid ?? 0,
    admin: async (program, args) => (await run(program, ['-c', configDir, ...args], { encoding: 'utf8' })).stdout,
  };
}

/** A self-signed certificate for STARTTLS: key and certificate in one PEM, as `smtpd_tls_chain_files` takes them. */
export async function selfSignedChain(name: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-cert-'));
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
    ]);
    return readFileSync(join(dir, 'key.pem'), 'utf8') + readFileSync(join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
