/**
 * `mailfleet agent --pod` as a Kubernetes pod runs it, outside a container: the mounts the renderer
 * gives the pod are temporary directories, produced here the way the renderer produces them (the real
 * generator fed a redacted spec), and the agent is the real binary running a real Redis.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { POD_NAME_PLACEHOLDER, podSecretKeys, redactSpec, roleConfigFiles, secretPlaceholder, type InstanceContext, type Peers } from '../../src/config/index.ts';
import { redisPing } from '../../src/protocol/index.ts';
import { redisCa } from '../../src/internal-tls/index.ts';
import { parseSpec } from '../../src/spec/index.ts';
import { instanceProcessGroups, processesMentioning, REPO } from '../support/platform.ts';

const ADDRESS = '127.85.0.10';
const POD_NAME = 'kvs-0';
const MAILFLEET = join(REPO, 'bin', 'mailfleet');
const READY_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 30_000;

const platform = parseSpec(stringify({
  apiVersion: 'mailfleet.io/v1alpha1',
  kind: 'MailPlatform',
  metadata: { name: 'podtest' },
  spec: {
    domains: ['example.com'],
    hostname: 'mx.example.com',
    roles: { mta: { replicas: 0 }, msa: { replicas: 0 }, proxy: { replicas: 0 }, mailbox: { replicas: 0 }, ldap: { replicas: 1 }, kvs: { replicas: 1 } },
    ldap: { adminPassword: 'pod-admin-secret-41', readerPassword: 'pod-reader-secret-42', authPassword: 'pod-auth-secret-44', tlsKey: 'pod-ldap-tls-key-45' },
    director: { apiKey: 'pod-doveadm-key-0123456789', backendLoginPassword: 'pod-backend-login-0123456' },
    redis: { password: 'pod-redis-secret-0123456789' },
    accounts: { generate: [{ count: 2, prefix: 'user', domain: 'example.com', password: 'pod-user-secret-43' }] },
  },
}));

interface PodDirs {
  root: string;
  configFrom: string;
  secrets: string;
  specDir: string;
  instance: InstanceContext;
}

/** The pod's mounts as the renderer would fill them, under `root`. */
function podMounts(root: string): { dirs: PodDirs; secrets: Record<string, string>; files: Record<string, string> } {
  const instance: InstanceContext = {
    role: 'kvs',
    name: POD_NAME_PLACEHOLDER,
    listen: ADDRESS,
    configDir: join(root, 'config'),
    dataDir: join(root, 'data'),
    runDir: join(root, 'run'),
    mailDir: join(root, 'mail'),
    tlsDir: join(root, 'tls'),
  };
  const dirs: PodDirs = { root, configFrom: join(root, 'configmap'), secrets: join(root, 'secrets'), specDir: join(root, 'spec'), instance };
  const redacted = redactSpec(platform.spec);
  const peers: Peers = { ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap' }], kvs: [{ name: POD_NAME, host: ADDRESS }], mailbox: [], proxy: [], mta: [], msa: [] };
  const files = roleConfigFiles('kvs', { spec: redacted.spec, instance, peers });

  // The kubelet's ConfigMap layout: each key a symlink through `..data` into a timestamped directory.
  const stamp = '..2024_05_01_12_00_00.000000001';
  mkdirSync(join(dirs.configFrom, stamp), { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dirs.configFrom, stamp, name), body);
    symlinkSync(join('..data', name), join(dirs.configFrom, name));
  }
  symlinkSync(stamp, join(dirs.configFrom, '..data'));

  mkdirSync(dirs.specDir);
  writeFileSync(join(dirs.specDir, 'mailfleet.yaml'), stringify({ ...platform, spec: redacted.spec }));
  writeFileSync(join(dirs.specDir, 'peers.json'), JSON.stringify(peers));
  mkdirSync(dirs.secrets);
  for (const [key, value] of Object.entries(redacted.secrets)) writeFileSync(join(dirs.secrets, key), value);
  return { dirs, secrets: redacted.secrets, files };
}

function podArgs(dirs: PodDirs, role = 'kvs'): string[] {
  return [
    'agent', '--pod', '--role', role, '--name', POD_NAME, '--listen', ADDRESS,
    '--config-from', dirs.configFrom, '--secrets', dirs.secrets, '--spec-dir', dirs.specDir,
    '--config-dir', dirs.instance.configDir, '--data-dir', dirs.instance.dataDir,
    '--run-dir', dirs.instance.runDir, '--mail-dir', dirs.instance.mailDir,
  ];
}

async function readyz(): Promise<number | undefined> {
  try {
    const res = await fetch(`http://${ADDRESS}:${platform.spec.ports.http}/readyz`, { signal: AbortSignal.timeout(3000) });
    await res.text();
    return res.status;
  } catch {
    return undefined;
  }
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

test('mailfleet agent --pod runs Redis from mounted config, spec and secrets', { timeout: 120_000 }, async (t) => {
  // The `mailfleet-test-` prefix is the marker the test script's leftover check looks for.
  const root = mkdtempSync('/tmp/mailfleet-test-agent-pod-');
  t.after(async () => {
    const left = processesMentioning(root);
    if (left.length > 0) {
      killAll(left);
      await delay(200);
    }
    if (process.env.MAILFLEET_TEST_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  });
  const { dirs, secrets, files } = podMounts(root);

  await t.test('GIVEN a Secret mount without a key the role uses WHEN the agent starts THEN it exits 1 naming the key and the directory', () => {
    const partial = join(root, 'secrets-partial');
    mkdirSync(partial);
    for (const [key, value] of Object.entries(secrets)) if (key !== 'ldap-reader-password') writeFileSync(join(partial, key), value);

    // An mta binds to LDAP with the reader password; the spec is read before any daemon is set up.
    const r = spawnSync(MAILFLEET, podArgs({ ...dirs, secrets: partial }, 'mta'), { encoding: 'utf8', timeout: 60_000 });

    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /ldap-reader-password/);
    assert.ok(r.stderr.includes(partial), r.stderr);
  });

  // kvs uses one Secret key, the Redis password: its pods mount only that (podSecretKeys), and so does the real run below.
  const onlyRedis = join(root, 'secrets-kvs');
  mkdirSync(onlyRedis);
  for (const key of podSecretKeys('kvs', platform.spec)) writeFileSync(join(onlyRedis, key), secrets[key] ?? '');
  assert.deepEqual(readdirSync(onlyRedis), ['redis-password']);

  const logFile = join(root, 'agent.log');
  const logFd = openSync(logFile, 'a');
  const agent = spawn(MAILFLEET, podArgs({ ...dirs, secrets: onlyRedis }), { stdio: ['ignore', logFd, logFd], detached: true });
  closeSync(logFd);
  const exited = new Promise<number>((resolve) => agent.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  t.after(() => {
    // Even when an assertion failed: the agent's process group and its daemon's go.
    if (agent.exitCode === null && agent.signalCode === null && agent.pid !== undefined) {
      for (const group of instanceProcessGroups(agent.pid)) {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });

  await t.test('WHEN the agent starts THEN /readyz answers 200 on the health port', async () => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ((await readyz()) !== 200) {
      assert.equal(agent.exitCode, null, `agent exited early:\n${readFileSync(logFile, 'utf8')}`);
      assert.ok(Date.now() < deadline, `not ready after ${READY_TIMEOUT_MS} ms:\n${readFileSync(logFile, 'utf8')}`);
      await delay(100);
    }
  });

  await t.test('THEN Redis answers PING on its port over TLS (a certificate of the CA of the Secret\'s password) to a client with the password, NOAUTH to one without, and nothing in plain TCP', async () => {
    const tls = { mode: 'implicit' as const, ca: redisCa(secrets['redis-password'] ?? '').certPem, minVersion: 'TLSv1.3' as const };
    const r = await redisPing({ host: ADDRESS, port: platform.spec.ports.redis, password: secrets['redis-password'], timeoutMs: 3000, tls });
    assert.equal(r.detail.reply, '+PONG');
    await assert.rejects(redisPing({ host: ADDRESS, port: platform.spec.ports.redis, timeoutMs: 3000, tls }), { code: 'PROTOCOL_UNEXPECTED_REPLY', reply: /^-NOAUTH/ });
    await assert.rejects(redisPing({ host: ADDRESS, port: platform.spec.ports.redis, password: secrets['redis-password'], timeoutMs: 3000 }), (err: { code?: string }) => err.code !== 'PROTOCOL_UNEXPECTED_REPLY');
  });

  await t.test('THEN the mounted config is installed in the config dir with the password filled in, not world-readable; the ConfigMap holds only the placeholder', () => {
    const installed = join(dirs.instance.configDir, 'redis.conf');
    const placeholder = secretPlaceholder('redis-password');
    assert.ok(files['redis.conf']?.includes(`requirepass ${placeholder}`));
    assert.ok(!files['redis.conf']?.includes(secrets['redis-password'] ?? '-'));
    assert.equal(readFileSync(installed, 'utf8'), files['redis.conf']?.replace(placeholder, secrets['redis-password'] ?? ''));
    assert.equal(statSync(installed).mode & 0o007, 0);
  });

  await t.test('THEN one log line gives the effective settings and no secret value is logged', () => {
    const log = readFileSync(logFile, 'utf8');
    const lines = log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg?: string; settings?: Record<string, unknown> });
    const settings = lines.filter((l) => l.msg === 'effective settings');
    assert.equal(settings.length, 1);
    assert.equal(settings[0]?.settings?.mode, 'pod');
    assert.equal(settings[0]?.settings?.configFrom, dirs.configFrom);
    assert.equal(settings[0]?.settings?.control, join(dirs.instance.runDir, 'agent.sock'));
    for (const value of Object.values(secrets)) assert.ok(!log.includes(value), `secret ${value} appears in the agent's log`);
  });

  await t.test('WHEN POST /drain reaches the pod\'s HTTP port THEN it is refused with 403 and the pod stays ready', async () => {
    const res = await fetch(`http://${ADDRESS}:${platform.spec.ports.http}/drain`, { method: 'POST', signal: AbortSignal.timeout(3000) });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /control socket/);
    assert.equal(await readyz(), 200);
  });

  await t.test('WHEN the preStop hook\'s command asks on the control socket in the run dir THEN the agent drains and goes unready', () => {
    const socket = join(dirs.instance.runDir, 'agent.sock');
    const st = lstatSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    const r = spawnSync(MAILFLEET, ['agent', 'drain', '--socket', socket], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { completed: boolean }).completed, true, r.stdout);
  });

  await t.test('THEN /readyz fails while the drained pod waits for its SIGTERM', async () => {
    assert.equal(await readyz(), 503);
  });

  await t.test('WHEN the agent gets SIGTERM THEN it exits and leaves no process behind', async () => {
    agent.kill('SIGTERM');
    const code = await Promise.race([exited, delay(EXIT_TIMEOUT_MS, 'timeout' as const, { ref: false })]);
    assert.notEqual(code, 'timeout', 'agent did not exit after SIGTERM');
    assert.equal(code, 0);
    assert.deepEqual(processesMentioning(root), []);
  });
});
