import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { createDirectorSink } from '../../src/backends/index.ts';
import type { TlsClientOptions, TlsMode } from '../../src/protocol/index.ts';
import { allPids, statFields } from '../../src/proc.ts';
import { controlRequest, type InstanceStatus } from '../../src/runtime/local/index.ts';
import { stringify } from 'yaml';
import { ensureBuilt } from './build.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
const UP_TIMEOUT_MS = 180_000;

export type { InstanceStatus };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Platform {
  stateDir: string;
  specFile: string;
  runtime: ChildProcess;
  /** Everything the runtime printed on stderr so far. */
  output(): string;
  cli(args: string[]): CliResult;
  /** Every instance, from the runtime's control socket (no CLI process per call). */
  status(): Promise<InstanceStatus[]>;
  instance(name: string): Promise<InstanceStatus>;
  down(): Promise<void>;
  /** Pids of processes still running for this platform (any command line mentioning the state dir). */
  leftovers(): number[];
  /**
   * TLS for a client of this platform, as a user's mail client is set up: trusting the local CA
   * that `mailfleet up` wrote to `<stateDir>/tls/ca.crt`, asking for {@link HOSTNAME} by SNI (the
   * instances are dialled by address, which no certificate names), verifying both.
   */
  clientTls(mode: TlsMode): TlsClientOptions;
}

export interface PlatformOptions {
  /** A /16 of 127.0.0.0/8 no other test file uses, e.g. `127.81.0.0/16`. */
  addressPool: string;
  /** Replicas by role. rspamd (`as`) and clamd (`av`) default to 0: a test that filters says so (and sets `filter`). */
  roles?: Partial<Record<'mta' | 'msa' | 'proxy' | 'mailbox' | 'ldap' | 'kvs' | 'as' | 'av', number>>;
  accounts?: number;
  password?: string;
  /** Extra `spec.director` settings (resyncSeconds, drainTimeoutSeconds, …). */
  director?: Record<string, number>;
  /** Extra `spec.local` settings (scrapeIntervalSeconds, alertWebhookUrl, …). */
  local?: Record<string, unknown>;
  /** Extra top-level `spec` settings (drainSeconds, hungSeconds, …). */
  extra?: Record<string, unknown>;
  /** The runtime's environment, which its agents inherit (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Leave the doveadm API key out of the spec, so that `up` generates it (`doveadm()` then needs `apiKey`). */
  generatedApiKey?: boolean;
  /**
   * `spec.probe` settings, which turn the prober on. Without them it is off: it would add an instance, an
   * account and mail every interval to every platform test (test/integration/probe.test.ts runs it).
   */
  probe?: Record<string, unknown>;
  /**
   * `spec.policy` settings (`{}`: the spec's defaults, on with the default rules). Without them the policy server
   * is off: its limits would defer the load other tests send from one address, and it needs kvs, which many
   * leave out (test/integration/policy-flood.test.ts and mail-path.test.ts run it).
   */
  policy?: Record<string, unknown>;
  /** `spec.filter` settings (rspamd's resolvers, thresholds, clamd's signatures, …), for a test that runs `as`. */
  filter?: Record<string, unknown>;
  /**
   * Runs in the fresh state directory before `mailfleet up`: files the platform should find there (DKIM keys, a
   * signature directory). Its result replaces placeholders in the spec: each key, where a string value equals it.
   */
  beforeUp?: (stateDir: string) => Record<string, string>;
}

export const DOMAIN = 'example.com';
/** The spec's hostname: the one name on the platform's default certificate. */
export const HOSTNAME = 'mx.example.com';
export const API_KEY = 'test-doveadm-api-key-0123456789';

/** Runs the mailfleet CLI as users do: the compiled CLI (built first when stale) on the project's Node. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): CliResult {
  const r = spawnSync(process.execPath, [ensureBuilt(), ...args], { encoding: 'utf8', env, timeout: 180_000 });
  // A CLI that never ran to an exit status says why: killed by a signal, or not started at all.
  const why = r.status === null ? `\n[runCli: ${r.error ? `spawn failed: ${r.error.message}` : `killed by ${r.signal ?? 'an unknown signal'}`}]` : '';
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + why };
}

/**
 * {@link runCli} without blocking this process: for a command that talks to a server the test itself runs
 * (a DNS server in this process cannot answer while spawnSync waits).
 */
export async function runCliAsync(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const child = spawn(process.execPath, [ensureBuilt(), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const code = await new Promise<number>((resolve) => child.once('close', (status) => resolve(status ?? -1)));
  return { code, stdout, stderr };
}

export function processesMentioning(needle: string): number[] {
  return allPids().filter((pid) => {
    if (pid === process.pid) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
    } catch {
      return false; // gone while we looked
    }
  });
}

/**
 * The process groups an instance runs in: its agent's, and the one its daemon leads (the agent starts the
 * daemon as a group of its own). Signalling each freezes or thaws the whole instance.
 */
export function instanceProcessGroups(agentPid: number): number[] {
  const groups = new Set([agentPid]);
  for (const pid of allPids()) {
    const [, ppid, pgrp] = statFields(pid) ?? [];
    if (Number(ppid) === agentPid) groups.add(Number(pgrp));
  }
  return [...groups];
}

/** Lines kept from the end of each log, and the length each is cut to, in a failed subtest's diagnostic. */
const LOG_TAIL_LINES = 12;
const LOG_TAIL_WIDTH = 400;

/** The last lines of the runtime's and every instance's log. */
export function logTails(logsDir: string): string {
  let names: string[];
  try {
    names = readdirSync(logsDir).filter((n) => n.endsWith('.log')).sort();
  } catch {
    return `no logs in ${logsDir}`;
  }
  return names.map((name) => {
    let lines: string[];
    try {
      lines = readFileSync(join(logsDir, name), 'utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    } catch (err) {
      lines = [String(err)];
    }
    return [`--- ${name} (last ${lines.length} lines)`, ...lines.map((l) => (l.length > LOG_TAIL_WIDTH ? `${l.slice(0, LOG_TAIL_WIDTH)}…` : l))].join('\n');
  }).join('\n');
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * postscreen's greet wait on the tests' platforms: every new client address waits it once (6 s by default), and the
 * tests send from many; a client that talks before its turn is still caught. A test that sets `extra.mta` sets its own.
 */
export const TEST_GREET_WAIT_SECONDS = 1;

/**
 * Brings a platform up with `mailfleet up` in a fresh state directory and registers its teardown first,
 * so that it is stopped (and anything left killed) even when the test fails.
 */
export async function startPlatform(t: TestContext, options: PlatformOptions): Promise<Platform> {
  const stateDir = mkdtempSync('/tmp/mailfleet-test-');
  const specFile = join(stateDir, 'mailfleet.yaml');
  const roles = { ldap: 1, kvs: 1, mailbox: 3, proxy: 1, mta: 1, msa: 1, as: 0, av: 0, ...options.roles };
  const substitutions = options.beforeUp?.(stateDir) ?? {};
  const substitute = (value: unknown): unknown => {
    if (typeof value === 'string') return substitutions[value] ?? value;
    if (Array.isArray(value)) return value.map(substitute);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v)]));
    return value;
  };
  writeFileSync(specFile, stringify(substitute({
    apiVersion: 'mailfleet.io/v1alpha1',
    kind: 'MailPlatform',
    metadata: { name: 'test' },
    spec: {
      domains: [DOMAIN, 'example.net'],
      hostname: HOSTNAME,
      roles: Object.fromEntries(Object.entries(roles).map(([k, v]) => [k, { replicas: v }])),
      director: { ...(options.generatedApiKey ? {} : { apiKey: API_KEY }), ...options.director },
      local: { stateDir, addressPool: options.addressPool, ...options.local },
      accounts: { generate: [{ count: options.accounts ?? 10, prefix: 'user', domain: DOMAIN, password: options.password ?? 'secret-password' }] },
      probe: options.probe ?? { enabled: false },
      policy: options.policy ?? { enabled: false },
      ...(options.filter ? { filter: options.filter } : {}),
      // postscreen stays on, with a shorter wait for each new client address (the suites send from many).
      mta: { postscreen: { greetWaitSeconds: TEST_GREET_WAIT_SECONDS } },
      ...options.extra,
    },
  })));

  let stderr = '';
  const runtime = spawn(process.execPath, [ensureBuilt(), 'up', '-f', specFile, '--state-dir', stateDir], {
    env: options.env ?? process.env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  runtime.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number>((resolve) => runtime.once('exit', (code) => resolve(code ?? -1)));
  let stopped = false;

  const platform: Platform = {
    stateDir,
    specFile,
    runtime,
    output: () => stderr,
    cli: (args) => runCli([...args, '--state-dir', stateDir]),
    async status() {
      const { status, body } = await controlRequest(join(stateDir, 'control.sock'), 'GET', '/v1/status');
      if (status !== 200) throw new Error(`status failed: HTTP ${status}`);
      return (body as { instances: InstanceStatus[] }).instances;
    },
    async instance(name) {
      const found = (await platform.status()).find((i) => i.name === name);
      if (!found) throw new Error(`no instance ${name}`);
      return found;
    },
    async down() {
      if (stopped) return;
      stopped = true;
      if (runtime.exitCode === null) runtime.kill('SIGTERM');
      await Promise.race([exited, delay(120_000, undefined, { ref: false })]);
    },
    leftovers: () => processesMentioning(stateDir),
    clientTls: (mode) => ({ mode, ca: readFileSync(localCaFile(stateDir), 'utf8'), servername: HOSTNAME }),
  };

  // A subtest that fails shows what the platform logged last: a CI log then holds more than the assertion.
  // (`passed` is Node's since 21.7; the type definitions here lack it.)
  t.afterEach((sub) => {
    if ((sub as TestContext & { passed?: boolean }).passed === false) sub.diagnostic(logTails(join(stateDir, 'logs')));
  });

  t.after(async () => {
    if (!stopped && runtime.exitCode !== null) {
      // The runtime died under the test: show what it said.
      t.diagnostic(`mailfleet up exited early with ${runtime.exitCode}:\n${stderr.slice(-4000)}`);
    }
    await platform.down();
    const left = platform.leftovers();
    if (left.length > 0) {
      killAll(left);
      await delay(200);
    }
    // MAILFLEET_TEST_KEEP=1 keeps the state directory (configs, logs) for a look after a failure.
    if (process.env.MAILFLEET_TEST_KEEP !== '1') rmSync(stateDir, { recursive: true, force: true });
  });

  const deadline = Date.now() + UP_TIMEOUT_MS;
  while (!stderr.includes('platform is up')) {
    if (runtime.exitCode !== null) throw new Error(`mailfleet up exited with ${runtime.exitCode}:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`mailfleet up not ready after ${UP_TIMEOUT_MS} ms:\n${stderr}`);
    await delay(100);
  }
  return platform;
}

/** The local CA's certificate that `mailfleet up` writes into its state directory. */
export function localCaFile(stateDir: string): string {
  return join(stateDir, 'tls', 'ca.crt');
}

/** One doveadm HTTP API command to a proxy, through the controller's director client; returns the response rows. */
export async function doveadm(host: string, port: number, command: string, params: Record<string, string> = {}): Promise<Record<string, string>[]> {
  const director = createDirectorSink({ apiKey: API_KEY, endpoints: () => [{ url: `https://${host}:${port}` }] });
  return (await director.call(command, params)) as Record<string, string>[];
}
