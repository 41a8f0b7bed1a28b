/**
 * Watches the real glibc resolver: `getent ahosts NAME` runs in a private mount namespace
 * (`unshare --mount`) where a generated resolv.conf, naming the counting server as the only name
 * server, is bind-mounted over /etc/resolv.conf. Nothing outside that namespace changes, and the
 * namespace dies with getent. Also inside it:
 *
 * - /etc/nsswitch.conf is replaced by `hosts: files dns`, so the host's NSS modules (mdns, resolve,
 *   myhostname) cannot answer instead of DNS;
 * - the nscd socket directory, if there is one, is covered by an empty tmpfs, so no cache answers;
 * - getent runs with only PATH and LC_ALL=C in its environment (no LOCALDOMAIN, RES_OPTIONS, HOSTALIASES).
 *
 * glibc cannot be told a port, so the counting server must own port 53 on its loopback address: root.
 * getent passes AI_ADDRCONFIG; see `addrconfigTypes` for what that changes.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { MailfleetError, errorMessage } from '../errors.ts';
import { AUDIT_SERVER_HOST, startAuditServer, type ObservedQuery } from './audit-server.ts';
import { renderResolvConf, type ResolvConf } from './resolv-conf.ts';

/** getent is killed if it has not finished by then (a resolver that retransmits waits `timeout` each time). */
export const GETENT_DEADLINE_MS = 60_000;
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PROGRAMS = ['unshare', 'mount', 'sh', 'getent'] as const;
const NSSWITCH = 'hosts: files dns\n';
const NSCD_DIR = '/var/run/nscd';

/** Runs as `sh -c SCRIPT sh RESOLV_CONF NSSWITCH NAME` inside the new mount namespace. */
const SCRIPT = [
  'set -e',
  'mount --bind "$1" /etc/resolv.conf',
  'if [ -e /etc/nsswitch.conf ]; then mount --bind "$2" /etc/nsswitch.conf; fi',
  `if [ -d ${NSCD_DIR} ]; then mount -t tmpfs -o size=64k,mode=0755 mailfleet-dns-audit ${NSCD_DIR}; fi`,
  'exec getent ahosts -- "$3"',
].join('\n');

export interface ObserveOptions {
  /** The host name to look up, already validated (`parseHostName`). */
  readonly name: string;
  /** The resolver configuration to observe; its name servers are replaced by the counting server. */
  readonly conf: ResolvConf;
  /** Loopback address for the counting server (port 53). Default {@link AUDIT_SERVER_HOST}. */
  readonly serverHost?: string;
  /** Names that resolve; everything else is NXDOMAIN. Default: NAME itself. */
  readonly existing?: Iterable<string>;
  /** Default {@link GETENT_DEADLINE_MS}. */
  readonly deadlineMs?: number;
}

export interface Observation {
  /** Every query the counting server received, in arrival order. */
  readonly queries: readonly ObservedQuery[];
  /** The resolv.conf getent saw. */
  readonly resolvConf: string;
  /** getent's exit status: 0 resolved, 2 not found. */
  readonly exitCode: number;
  /** Addresses getent printed (each once). */
  readonly addresses: readonly string[];
}

function onPath(program: string, path: string): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why `--observe` cannot run here, one line per problem; empty when it can. */
export function observeProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not running as root: --observe needs root to unshare a mount namespace, bind-mount resolv.conf and listen on port 53');
  const path = process.env.PATH ?? FALLBACK_PATH;
  for (const program of PROGRAMS) if (!onPath(program, path)) problems.push(`${program} is not on PATH (Debian packages util-linux, mount, dash, libc-bin)`);
  return problems;
}

export function checkObservePrerequisites(): void {
  const problems = observeProblems();
  if (problems.length === 0) return;
  const onlyRoot = problems.length === 1 && problems[0]?.startsWith('not running as root');
  throw new MailfleetError(onlyRoot ? 'NOT_ROOT' : 'PREREQUISITE_MISSING', `cannot observe the resolver (${problems.length} problem(s))`, { details: problems });
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runGetent(args: string[], deadlineMs: number): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? FALLBACK_PATH, LC_ALL: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    // unshare without --fork execs sh, which execs getent: one process to kill.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, deadlineMs);
    timer.unref();
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new MailfleetError('DNS_AUDIT_FAILED', `cannot run unshare: ${errorMessage(err)}`, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export async function observeResolver(options: ObserveOptions): Promise<Observation> {
  const host = options.serverHost ?? AUDIT_SERVER_HOST;
  const deadlineMs = options.deadlineMs ?? GETENT_DEADLINE_MS;
  const resolvConf = renderResolvConf(options.conf, [host]);
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-dns-audit-'));
  const server = await startAuditServer({ host, existing: options.existing ?? [options.name] }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  try {
    const resolvPath = join(dir, 'resolv.conf');
    const nsswitchPath = join(dir, 'nsswitch.conf');
    writeFileSync(resolvPath, resolvConf);
    writeFileSync(nsswitchPath, NSSWITCH);
    const args = ['--mount', '--propagation', 'private', '--', 'sh', '-c', SCRIPT, 'sh', resolvPath, nsswitchPath, options.name];
    const exit = await runGetent(args, deadlineMs);
    const details = exit.stderr.trim() === '' ? [] : exit.stderr.trim().split('\n');
    if (exit.timedOut) throw new MailfleetError('DNS_AUDIT_FAILED', `getent ahosts ${options.name} did not finish within ${deadlineMs} ms`, { details });
    if (exit.code !== 0 && exit.code !== 2) {
      const status = exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`;
      throw new MailfleetError('DNS_AUDIT_FAILED', `observing the resolver failed: unshare/mount/getent exited with ${status}`, { details });
    }
    const addresses = [...new Set(exit.stdout.split('\n').map((line) => line.split(/\s+/)[0] ?? '').filter((a) => a !== ''))];
    return { queries: server.queries(), resolvConf, exitCode: exit.code, addresses };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

