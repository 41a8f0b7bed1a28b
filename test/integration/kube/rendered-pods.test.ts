/**
 * The rendered manifests run: for every mail workload of the example, its pod is started the way
 * kubelet would start it, without a container runtime. A private mount namespace gets the pod's
 * volumes at the rendered mount paths (ConfigMaps and the Secret as files, certificate Secrets as
 * kubelet projects them, emptyDirs, the data volume) and a private network namespace with only a loopback interface stands in for the pod
 * network, with the peers' DNS names in its /etc/hosts. Then the container's own args run:
 * `mailfleet agent --pod ...` from the StatefulSet, and its readiness probe must pass. The `av` pod (a Deployment)
 * starts on its empty signature volume and waits, unready, until a signature file appears there, as the updater's
 * first download would put one.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { generatedSecretValues, kubePeers, podConfigInput, renderContext, renderPlatform, type KubeObject } from '../../../src/runtime/kube/index.ts';
import { ROLES, validateSpec } from '../../../src/spec/index.ts';
import { REPO } from '../../support/platform.ts';
import { signatureDirectory } from '../filter/harness.ts';

/**
 * The example with clamd on (one `av` pod, its signatures from a mirror, which nothing here reaches), and a short
 * drain budget: the mailbox's drain, with no director beside it, fails only once the budget is spent.
 */
const doc = (() => {
  const example = parse(readFileSync(join(REPO, 'examples', 'mailfleet.yaml'), 'utf8')) as { spec: { roles: Record<string, unknown>; filter: Record<string, unknown> } & Record<string, unknown> };
  example.spec.roles.av = { replicas: 1 };
  example.spec.filter.antivirus = { signatures: { mirror: 'https://clamav-mirror.example.com' } };
  example.spec.drainSeconds = 5;
  return validateSpec(example);
})();
const objects = renderPlatform(doc);
/** The example names an existing Secret, which render does not write: made here as the operator makes it. */
const SECRET_VALUES = generatedSecretValues(doc.spec);
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 60_000;

type Container = {
  args: string[]; env: { name: string }[]; readinessProbe: { httpGet: { path: string } }; livenessProbe: { httpGet: { path: string } }; lifecycle: { preStop: { exec: { command: string[] } } };
  ports: { name: string; containerPort: number }[]; volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
};
type Volume = { name: string; configMap?: { name: string }; secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] }; emptyDir?: object; persistentVolumeClaim?: object };
type PodSpec = { containers: Container[]; volumes: Volume[]; securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number } };

const find = (kind: string, name: string): KubeObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o;
};

/** Host directories the mount points need to exist on (created empty when missing, removed after). */
const MOUNT_POINTS = ['/etc/mailfleet', '/srv/mail', '/var/lib/mailfleet', '/run/mailfleet'];

/**
 * Every pod DNS name and Service name of the platform, on the pod's own loopback; with them the Service address of the
 * ready proxies the msa has its logins checked through, which resolves whether any proxy is ready or not.
 */
function hostsFile(): string {
  const ctx = renderContext(doc);
  const peers = kubePeers(ctx);
  const names = ROLES.flatMap((r) => peers[r].map((p) => p.host));
  names.push(...['mailout', 'fallback', ...ROLES].map((s) => `${s}.${ctx.namespace}.svc.${doc.spec.kubernetes.clusterDomain}`));
  names.push(podConfigInput(ctx, 'msa').authHost ?? '');
  return `127.0.0.1 localhost ${names.join(' ')}\n::1 localhost ip6-localhost\n`;
}

/** The Secrets cert-manager fills for the rendered Certificates, with the names on each. */
const CERTIFICATE_SECRETS = new Map(objects.filter((o) => o.kind === 'Certificate').map((o) => {
  const spec = o.spec as { secretName: string; dnsNames: string[] };
  return [spec.secretName, spec.dnsNames];
}));

/**
 * A kubernetes.io/tls Secret as cert-manager fills it (a certificate for its names and its key), projected
 * as kubelet does: the files in a timestamped directory, `..data` pointing at it, each key a symlink
 * through `..data`, so that a renewal is one symlink swap.
 */
function projectTlsSecret(root: string, dir: string, secret: NonNullable<Volume['secret']>, hosts: readonly string[]): void {
  const made = join(root, `cert-${secret.secretName}`);
  mkdirSync(made, { recursive: true });
  const openssl = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-keyout', join(made, 'tls.key'), '-out', join(made, 'tls.crt'), '-subj', `/CN=${hosts[0] ?? 'localhost'}`,
    '-addext', `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
  ], { encoding: 'utf8' });
  assert.equal(openssl.status, 0, openssl.stderr);
  const version = '..2025_01_01_00_00_00.000000001';
  mkdirSync(join(dir, version));
  for (const { key, path } of secret.items ?? []) {
    assert.ok(['tls.crt', 'tls.key'].includes(key), `a kubernetes.io/tls Secret has no key ${key}`);
    writeFileSync(join(dir, version, path), readFileSync(join(made, key)), { mode: secret.defaultMode ?? 0o644 });
    symlinkSync(join('..data', path), join(dir, path));
  }
  symlinkSync(version, join(dir, '..data'));
}

/** A host directory, where the container mounts it, and whether read-only. */
type Bind = [string, string, boolean];

/** Lays out the pod's volumes under `root` at the paths its container mounts them. */
function materialise(root: string, pod: PodSpec): { binds: Bind[] } {
  const [c] = pod.containers;
  assert.ok(c);
  const source = (v: Volume, dir: string) => {
    mkdirSync(dir, { recursive: true });
    if (v.configMap) {
      const cm = find('ConfigMap', v.configMap.name) as KubeObject & { data?: Record<string, string> };
      for (const [k, text] of Object.entries(cm.data ?? {})) writeFileSync(join(dir, k), text);
    } else if (v.secret && CERTIFICATE_SECRETS.has(v.secret.secretName)) {
      projectTlsSecret(root, dir, v.secret, CERTIFICATE_SECRETS.get(v.secret.secretName) ?? []);
    } else if (v.secret) {
      assert.equal(v.secret.secretName, doc.spec.kubernetes.existingSecret);
      // As kubelet projects `items`: only those keys, each of which must exist.
      const items = v.secret.items ?? Object.keys(SECRET_VALUES).map((key) => ({ key, path: key }));
      for (const { key, path } of items) {
        const value = SECRET_VALUES[key];
        assert.ok(value !== undefined, `the Secret has no key ${key}`);
        writeFileSync(join(dir, path), value, { mode: v.secret.defaultMode ?? 0o644 });
      }
    }
  };
  const binds: Bind[] = [];
  for (const m of c.volumeMounts) {
    const v = pod.volumes.find((x) => x.name === m.name);
    const dir = join(root, 'volumes', m.name);
    if (v) source(v, dir);
    else mkdirSync(dir, { recursive: true }); // a volumeClaimTemplate: the pod's own PVC
    binds.push([dir, m.mountPath, m.readOnly === true]);
  }
  // fsGroup, as kubelet applies it: every volume group-owned by it; writable ones group-writable and setgid.
  const fsGroup = pod.securityContext?.fsGroup;
  if (fsGroup !== undefined) {
    for (const [dir] of binds) {
      chownRecursive(dir, fsGroup);
      const v = pod.volumes.find((x) => join(root, 'volumes', x.name) === dir);
      if (!v || v.emptyDir) chmodSync(dir, 0o2770);
    }
  }
  return { binds };
}

function chownRecursive(path: string, gid: number): void {
  chownSync(path, 0, gid);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownRecursive(join(path, entry), gid);
}

/** The pod's shell: private mounts and network, volumes bound, then the container's args (as runAsUser, if set). */
function podScript(binds: Bind[], hosts: string, args: string[], env: Record<string, string>, user?: PodSpec['securityContext']): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const lines = [
    'set -e',
    'mount --make-rprivate /',
    'ip link set lo up',
    ...MOUNT_POINTS.map((p) => `mount -t tmpfs -o mode=755 tmpfs ${p}`),
    ...binds.map(([from, to, ro]) => `mkdir -p ${q(to)} && mount --bind ${q(from)} ${q(to)}${ro ? ` && mount -o remount,bind,ro ${q(to)}` : ''}`),
    `mount --bind ${q(hosts)} /etc/hosts`,
    `exec ${runAs(user)}env ${Object.entries(env).map(([k, v]) => `${k}=${q(v)}`).join(' ')} ${q(join(REPO, 'bin', 'mailfleet'))} agent ${args.map(q).join(' ')}`,
  ];
  return lines.join('\n');
}

/** `runAsUser`/`runAsGroup` with `fsGroup` as a supplementary group, and no capabilities left. */
function runAs(user: PodSpec['securityContext']): string {
  if (user?.runAsUser === undefined) return '';
  const gid = user.runAsGroup ?? user.runAsUser;
  return `setpriv --reuid=${user.runAsUser} --regid=${gid} --groups=${user.fsGroup ?? gid} --inh-caps=-all --bounding-set=-all `;
}

/** Processes whose network namespace is `ns` (what a pod leaves behind, if anything). */
function processesIn(ns: string): number[] {
  const out: number[] = [];
  // Never the test's own namespace: that would be every process on the host.
  if (ns === '' || ns === readlinkSync('/proc/self/ns/net')) return out;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === ns) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The agent: the one child of `unshare --fork`. */
function agentOf(unsharePid: number | undefined): number | undefined {
  try {
    const pid = Number(readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/)[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function poll(deadlineMs: number, check: () => boolean): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return check();
}

const ALL_WORKLOADS = ['ldap', 'kvs', 'mailbox', 'proxy', 'mta', 'msa', 'mailout', 'fallback', 'av'];
/** Workloads rendered as Deployments rather than StatefulSets. */
const DEPLOYMENTS = ['av'];
/** MAILFLEET_TEST_PODS=mta,proxy runs only those (when chasing one pod's failure). */
const WORKLOADS = process.env.MAILFLEET_TEST_PODS ? process.env.MAILFLEET_TEST_PODS.split(',') : ALL_WORKLOADS;

test('rendered pods start from their mounts and pass their readiness probe', { timeout: 15 * 60_000 }, async (t) => {
  const created = MOUNT_POINTS.filter((p) => !existsSync(p));
  for (const p of created) mkdirSync(p, { recursive: true });
  const root = mkdtempSync('/tmp/mailfleet-test-rendered-pods-');
  chmodSync(root, 0o755);
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    for (const p of created.reverse()) {
      try {
        rmdirSync(p);
      } catch {
        // not empty: someone else uses it now
      }
    }
  });
  const hosts = join(root, 'hosts');
  writeFileSync(hosts, hostsFile());

  for (const w of WORKLOADS) {
    const title = w === 'msa'
      ? 'msa: starts from the rendered ConfigMap and Secret, and stays unready while no proxy\'s Dovecot auth answers behind the proxy-auth Service'
      : w === 'av'
        ? 'av: the agent waits, unready and alive, on the empty signature volume, and starts clamd once a signature file appears there'
        : `${w}: the agent runs the daemon from the rendered ConfigMap and Secret and /readyz answers 200`;
    await t.test(title, async (st) => {
      const sts = find(DEPLOYMENTS.includes(w) ? 'Deployment' : 'StatefulSet', w) as KubeObject & { spec: { template: { spec: PodSpec } } };
      const pod = sts.spec.template.spec;
      const [c] = pod.containers;
      assert.ok(c);
      const { binds } = materialise(join(root, w), pod);
      const env = { POD_NAME: `${w}-0`, POD_NAMESPACE: doc.spec.kubernetes.namespace, POD_IP: '127.0.0.1' };
      const args = c.args.map((a) => a.replace(/\$\((\w+)\)/g, (_, k: string) => env[k as keyof typeof env] ?? ''));
      const child: ChildProcess = spawn('unshare', ['--mount', '--net', '--fork', '--kill-child', 'sh', '-c', podScript(binds, hosts, args, env, pod.securityContext)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let output = '';
      child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
      child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let ns = '';
      st.after(async () => {
        const agent = agentOf(child.pid);
        if (child.exitCode === null && agent) process.kill(agent, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
        if (child.exitCode === null) child.kill('SIGKILL');
        if (ns) for (const pid of processesIn(ns)) process.kill(pid, 'SIGKILL');
      });
      // unshare enters the new namespace just after it starts: until then it shares ours.
      const own = readlinkSync('/proc/self/ns/net');
      const netnsOf = (pid: number | undefined) => {
        try {
          return readlinkSync(`/proc/${pid}/ns/net`);
        } catch {
          return '';
        }
      };
      assert.ok(await poll(5000, () => netnsOf(child.pid) !== '' && netnsOf(child.pid) !== own), 'the pod has its own network namespace');
      ns = netnsOf(child.pid);

      const http = c.ports.find((p) => p.name === 'http')?.containerPort;
      const get = (path: string) => spawnSync('nsenter', ['--target', String(child.pid), '--net', 'curl', '-sf', '-o', '/dev/null', `http://127.0.0.1:${http}${path}`]).status === 0;
      const probe = () => get(c.readinessProbe.httpGet.path);
      if (w === 'av') {
        // The updater has not downloaded anything yet: the volume is empty, and the agent waits rather than fail.
        const mount = c.volumeMounts.find((m) => m.name === 'signatures');
        assert.equal(mount?.readOnly, true, 'the av pod mounts the signature volume read-only');
        const volume = join(root, w, 'volumes', 'signatures');
        const waiting = new RegExp(`"msg":"waiting to start the daemon".*"directory":"${mount.mountPath}"|"directory":"${mount.mountPath}".*"msg":"waiting to start the daemon"`);
        assert.ok(await poll(READY_TIMEOUT_MS, () => waiting.test(output) && get(c.livenessProbe.httpGet.path)), `av logs the directory it waits for and is alive; its output:\n${output.slice(-3000)}`);
        assert.equal(probe(), false, 'av is not ready without signatures');
        assert.equal(child.exitCode, null, 'the agent did not give up');
        assert.doesNotMatch(output, /INSTANCE_START_FAILED|daemon exited/);
        assert.ok(!/starting daemon/.test(output), 'clamd was not started on an empty database');
        // The first download lands: a signature file appears on the volume.
        signatureDirectory(join(root, 'download'));
        renameSync(join(root, 'download', 'signatures', 'mailfleet-test.hdb'), join(volume, 'mailfleet-test.hdb'));
      }
      if (w === 'msa') {
        // Submission authenticates through Dovecot auth on the proxies, which the agent's relay reaches for Postfix:
        // alone, the relay finds no proxy behind the proxy-auth Service, smtpd has no SASL mechanism and refuses to
        // start a session, so the pod stays unready (in a cluster, until some proxy is ready there, whichever it is).
        const relayTried = /"proxy":"proxy-auth\.[^"]*:12345".*the proxy was not reached|the proxy was not reached.*"proxy":"proxy-auth\.[^"]*:12345"/;
        assert.ok(await poll(READY_TIMEOUT_MS, () => !probe() && relayTried.test(output)), `msa's relay tried the proxies' auth Service; its output:\n${output.slice(-3000)}`);
        assert.equal(probe(), false, 'msa is not ready without its auth service');
        return;
      }
      const ready = await poll(READY_TIMEOUT_MS, () => child.exitCode === null && probe());
      assert.ok(ready, `${w} never became ready; its output:\n${output.slice(-4000)}`);
      const uid = pod.securityContext?.runAsUser;
      if (uid !== undefined) {
        // runAsUser: the agent and its daemon run as that user, not root.
        const uids = processesIn(ns).filter((pid) => pid !== child.pid).map((pid) => /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
        assert.ok(uids.length >= 2 && uids.every((u) => u === String(uid)), `${w} processes run as ${uid}: ${uids.join(',')}`);
        st.diagnostic(`${w}: ${uids.length} processes, all uid ${uid}`);
      }
      for (const value of Object.values(SECRET_VALUES)) assert.ok(!output.includes(value), `${w} logged a secret value`);
      // SIGTERM goes to the agent (as kubelet signals PID 1), not to unshare, which would SIGKILL it.
      const agentPid = agentOf(child.pid);
      assert.ok(agentPid, 'the agent runs under unshare');

      // Anyone on the pod network reaches the HTTP port: it takes no drain.
      const posted = spawnSync('nsenter', ['--target', String(child.pid), '--net', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', `http://127.0.0.1:${http}/drain`], { encoding: 'utf8' });
      assert.equal(posted.stdout, '403', `${w}: POST /drain on the HTTP port`);
      assert.ok(probe(), `${w} is still ready after a refused POST /drain`);

      // The rendered preStop hook, as the kubelet runs it: in the container (its mounts, its network), as its user.
      const [program, ...hookArgs] = c.lifecycle.preStop.exec.command;
      assert.equal(program, 'mailfleet');
      const user = uid === undefined ? [] : ['--setuid', String(uid), '--setgid', String(pod.securityContext?.runAsGroup ?? uid)];
      const hook = spawnSync('nsenter', ['--target', String(agentPid), '--mount', '--net', ...user, '--', join(REPO, 'bin', 'mailfleet'), ...hookArgs], { encoding: 'utf8', timeout: 120_000 });
      if (w === 'mailbox') {
        // No proxy runs beside this pod, so no director can say that nobody is routed here any more: the drain
        // fails after its budget, and the hook says so with status 1 (the kubelet logs it, then stops the pod).
        assert.equal(hook.status, 1, `${w}'s preStop hook: ${hook.stderr}${hook.stdout}`);
        const report = JSON.parse(hook.stdout) as { completed: boolean; detail: string };
        assert.equal(report.completed, false, hook.stdout);
        assert.match(report.detail, /could not reach any director/);
      } else {
        assert.equal(hook.status, 0, `${w}'s preStop hook: ${hook.stderr}${hook.stdout}`);
        assert.equal((JSON.parse(hook.stdout) as { completed: boolean }).completed, true, hook.stdout);
      }
      assert.equal(probe(), false, `${w} is unready once drained`);

      const started = Date.now();
      process.kill(agentPid, 'SIGTERM');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), STOP_TIMEOUT_MS))]);
      assert.notEqual(code, 'timeout', `${w} did not stop within ${STOP_TIMEOUT_MS} ms`);
      assert.equal(code, 0, `${w}'s agent exits 0 after a drain; its output:\n${output.slice(-3000)}`);
      st.diagnostic(`${w}: stopped in ${Date.now() - started} ms after SIGTERM`);
      assert.ok(await poll(10_000, () => processesIn(ns).length === 0), `${w} left processes behind`);
    });
  }
});
