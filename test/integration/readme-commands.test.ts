/**
 * The README's first command, `scripts/up`, as written: as root in a shell without sudo, and as an ordinary
 * user who may use sudo (the npm dependencies and the build are made as that user in their own checkout, the
 * platform runs as root). The user's checkout is a clone of this repository's committed tree.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { processesMentioning, REPO } from '../support/platform.ts';

const POOL = '127.160.0.0/16';
const USER = 'mailfleet-readme';
const UP_TIMEOUT_MS = 240_000;
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Teardown steps, run last-registered first (node:test runs `after` hooks in registration order, and the
 * platform must stop before its user and directory go), each even when an earlier one failed.
 */
function teardown(t: TestContext): (step: () => unknown) => void {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (err) {
        t.diagnostic(`teardown: ${(err as Error).message}`);
      }
    }
  });
  return (step) => steps.push(step);
}

function tempDir(later: (step: () => unknown) => void): string {
  const dir = mkdtempSync('/tmp/mailfleet-test-readme-');
  // The daemons' users (and the test user) must reach the state and checkout below it.
  chmodSync(dir, 0o755);
  later(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A small platform in `dir`: LDAP, one proxy and one mailbox. */
function writeSpec(dir: string): { spec: string; stateDir: string } {
  const stateDir = join(dir, 'state');
  const spec = join(dir, 'mailfleet.yaml');
  writeFileSync(spec, stringify({
    apiVersion: 'mailfleet.io/v1alpha1',
    kind: 'MailPlatform',
    metadata: { name: 'readme' },
    spec: {
      domains: ['example.com'],
      hostname: 'mx.example.com',
      roles: { ldap: { replicas: 1 }, kvs: { replicas: 0 }, proxy: { replicas: 1 }, mailbox: { replicas: 1 }, mta: { replicas: 0 }, msa: { replicas: 0 } },
      director: { apiKey: randomBytes(24).toString('hex') },
      // No kvs, so no policy server (flow control and the login checks keep their counts in Redis).
      policy: { enabled: false },
      local: { stateDir, addressPool: POOL },
    },
  }));
  chmodSync(spec, 0o644);
  return { spec, stateDir };
}

interface Run {
  output: string;
  pid: number;
}

/**
 * Starts `command` in its own process group and waits for "platform is up"; registers, before anything else,
 * the teardown that stops the platform (SIGTERM to `mailfleet up`, as Ctrl-C) and kills whatever is left.
 */
async function upUntilReady(later: (step: () => unknown) => void, command: string[], cwd: string, stateDir: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const child = spawn(command[0] ?? '', command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  later(async () => {
    // The runtime is the `up` process under the state dir; SIGTERM there stops every instance gracefully.
    for (const pid of runtimePids(stateDir)) process.kill(pid, 'SIGTERM');
    await Promise.race([exited, delay(120_000, undefined, { ref: false })]);
    for (const pid of processesMentioning(stateDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // the group is gone
    }
  });
  const deadline = Date.now() + UP_TIMEOUT_MS;
  while (!output.includes('platform is up')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command.join(' ')} exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`not up after ${UP_TIMEOUT_MS} ms:\n${output}`);
    await delay(200);
  }
  return { output, pid: child.pid ?? 0 };
}

function runtimePids(stateDir: string): number[] {
  return processesMentioning(stateDir).filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.some((a) => a.endsWith('cli/main.js')) && argv.includes('up');
    } catch {
      return false;
    }
  });
}

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

test('GIVEN a root shell without sudo WHEN "scripts/up SPEC" is run as the README says THEN the platform comes up and sudo is never called', { timeout: 600_000 }, async (t) => {
  const later = teardown(t);
  const dir = tempDir(later);
  const { spec, stateDir } = writeSpec(dir);
  // A sudo that only records that it was called: the root shell of a stock Debian system has none.
  const fakeBin = join(dir, 'bin');
  mkdirSync(fakeBin);
  const called = join(dir, 'sudo-called');
  writeFileSync(join(fakeBin, 'sudo'), `#!/bin/sh\necho "$@" > ${called}\necho "sudo: command not found" >&2\nexit 127\n`, { mode: 0o755 });

  const run = await upUntilReady(later, [join(REPO, 'scripts', 'up'), spec, '--state-dir', stateDir], REPO, stateDir, { ...process.env, PATH: `${fakeBin}:${SYSTEM_PATH}` });
  assert.equal(existsSync(called), false, 'scripts/up called sudo as root');
  const [runtime] = runtimePids(stateDir);
  assert.ok(runtime !== undefined, `no mailfleet up process:\n${run.output}`);
  assert.equal(uidOf(runtime), 0);
});

test('GIVEN a user who may use sudo, in a checkout of their own WHEN "scripts/up SPEC" is run THEN dependencies and build stay theirs and the platform runs as root', { timeout: 600_000 }, async (t) => {
  const later = teardown(t);
  const dir = tempDir(later);
  const { spec, stateDir } = writeSpec(dir);
  const home = join(dir, 'home');
  mkdirSync(home);
  spawnSync('userdel', [USER]); // left by an earlier run that was killed before its teardown
  execFileSync('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/bash', USER]);
  later(() => execFileSync('userdel', [USER]));
  const sudoers = `/etc/sudoers.d/${USER}`;
  writeFileSync(sudoers, `${USER} ALL=(ALL:ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
  later(() => rmSync(sudoers, { force: true }));

  // The user's own checkout: the committed tree, with the npm dependencies already installed (no network here).
  const checkout = join(dir, 'mailfleet');
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO, checkout]);
  execFileSync('cp', ['-a', join(REPO, 'node_modules'), join(checkout, 'node_modules')]);
  const installed = join(checkout, 'node_modules', '.package-lock.json');
  const now = new Date();
  utimesSync(installed, now, now);
  execFileSync('chown', ['-R', `${USER}:${USER}`, checkout, home]);

  const run = await upUntilReady(later, ['runuser', '-u', USER, '--', 'scripts/up', spec, '--state-dir', stateDir], checkout, stateDir, { PATH: SYSTEM_PATH, HOME: home, LANG: 'C.UTF-8' });
  assert.match(run.output, /re-running with sudo/);
  const [runtime] = runtimePids(stateDir);
  assert.ok(runtime !== undefined, `no mailfleet up process:\n${run.output}`);
  assert.equal(uidOf(runtime), 0, 'the platform runs as root');
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
  assert.equal(statSync(join(checkout, 'dist', 'cli', 'main.js')).uid, uid, 'the build belongs to the user');
  assert.equal(statSync(join(checkout, 'dist', '.build-stamp')).uid, uid);
});
