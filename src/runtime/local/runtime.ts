import { renameSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { reapOrphans, STOP_TIMEOUT_MS, waitGone } from '../../agent/index.ts';
import { createEndpointFeed, type EndpointFeed } from '../../backends/index.ts';
import type { Peers } from '../../config/index.ts';
import { errorMessage, MailfleetError } from '../../errors.ts';
import { descendantGroups } from '../../proc.ts';
import type { Logger } from '../../log.ts';
import { FILTER_ROLES, INSTANCE_ROLES, instanceReplicas, ROLES, seedingBudgetMs, type InstanceRole, type PlatformSpec, type Role } from '../../spec/index.ts';
import type { AddressPool } from './addresses.ts';
import { daemonPidFiles, launchAgent, type Pod, type PodLaunch } from './pod.ts';

export const READY_TIMEOUT_MS = 90_000;
/** Readiness probing: often while an instance starts, then at the pace of a Kubernetes readiness probe. */
export const PROBE_STARTING_MS = 250;
export const PROBE_RUNNING_MS = 5000;
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** A pod that ran this long before crashing restarts without accumulated backoff. */
export const BACKOFF_RESET_MS = 60_000;

const PROBE_TIMEOUT_MS = 2500;
/**
 * An instance whose /livez has failed (an error answer, or none) for this long is restarted, as the kubelet
 * restarts a container after three failed liveness probes ten seconds apart (src/runtime/kube/pods.ts).
 */
export const LIVENESS_FAILURE_MS = 30_000;
/** Of a failed probe's answer, the part kept for the log (the agent says why in one line). */
const PROBE_DETAIL_BYTES = 200;

interface ProbeResult {
  ok: boolean;
  detail: string;
}

/**
 * One GET of a probe path: ok on a 2xx answer. Plain node:http without keep-alive: a probe every few seconds per
 * instance is most of what an idle platform does, and fetch costs several times more CPU per request.
 */
function httpProbe(host: string, port: number, path: '/readyz' | '/livez'): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = get({ host, port, path, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      let detail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (detail.length < PROBE_DETAIL_BYTES) detail += chunk.slice(0, PROBE_DETAIL_BYTES - detail.length);
      });
      res.on('end', () => resolve({ ok: res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300, detail: `${res.statusCode} ${detail.trim()}` }));
      res.on('error', (err) => resolve({ ok: false, detail: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
  });
}

/**
 * Which roles must re-read their config when a role's addresses change (the single-host stand-in for DNS): the
 * policy server reconnects to a moved kvs, Postfix and the proxies' Dovecot ask a moved policy server.
 */
const DEPENDENTS: Partial<Record<InstanceRole, InstanceRole[]>> = {
  ldap: ['mta', 'msa', 'mailbox', 'proxy'],
  kvs: ['policy', 'as'],
  // The proxies ask it about logins.
  policy: ['mta', 'msa', 'proxy'],
  proxy: ['mta', 'msa'],
  // rspamd is the mta's and msa's milter and learns from the mailboxes; clamd is rspamd's antivirus.
  as: ['mta', 'msa', 'mailbox'],
  av: ['as'],
};

/** The roles peers.json lists: those a config names (the prober is nobody's peer). */
const PEER_ROLES = [...ROLES, 'policy', ...FILTER_ROLES] as const;

export type Progress = (event: { pod: Pod; phase: 'starting' | 'ready' | 'stopping' | 'stopped' | 'crashed' | 'restarting'; elapsedMs?: number; detail?: string }) => void;

export interface RuntimeOptions {
  spec: PlatformSpec;
  launch: PodLaunch;
  peersFile: string;
  addresses: AddressPool;
  log: Logger;
  progress: Progress;
  /** Runs after an instance is published terminating and before it is signalled (a preStop hook). */
  beforeStop?: (pod: Pod) => Promise<void>;
  /** Runs once a new instance is ready, before `up`, `scale` or `restart` return (a mailbox: until it is routable); may throw. */
  afterReady?: (pod: Pod) => Promise<void>;
}

export interface LocalRuntime {
  readonly endpoints: EndpointFeed;
  pods(): Pod[];
  /** Starts every role in dependency order; resolves once all are ready. */
  up(): Promise<void>;
  /** Resolves when the role has `replicas` instances, each new one ready (and through `afterReady`), each removed one stopped. */
  scale(role: Role, replicas: number): Promise<void>;
  /** Rolling restart: one instance at a time, each next one only after the previous is ready again. */
  restart(role: InstanceRole): Promise<{ name: string; address: string; durationMs: number }[]>;
  /** Stops every instance, reverse dependency order. */
  down(): Promise<void>;
}

export function createLocalRuntime(opts: RuntimeOptions): LocalRuntime {
  const { spec, log } = opts;
  const pods = new Map<string, Pod>();
  const endpoints = createEndpointFeed();
  const crashStreak = new Map<string, number>();
  let stopping = false;
  let lastPeers = '';

  const byRole = (role: InstanceRole) => [...pods.values()].filter((p) => p.role === role).sort((a, b) => a.ordinal - b.ordinal);

  function peers(): Peers {
    const out = Object.fromEntries(PEER_ROLES.map((r) => [r, [] as { name: string; host: string }[]])) as Required<Peers>;
    for (const role of PEER_ROLES) {
      for (const p of byRole(role)) if (p.state === 'starting' || p.state === 'running') out[role].push({ name: p.name, host: p.address });
    }
    return out;
  }

  /** Rewrites peers.json; agents of roles that depend on a changed role get SIGHUP to re-render and reload. */
  function publishPeers(): void {
    const next = peers();
    const text = JSON.stringify(next, null, 2) + '\n';
    if (text === lastPeers) return;
    const before = lastPeers === '' ? undefined : (JSON.parse(lastPeers) as Peers);
    writeFileSync(`${opts.peersFile}.tmp`, text, { mode: 0o644 });
    renameSync(`${opts.peersFile}.tmp`, opts.peersFile);
    lastPeers = text;
    if (!before) return;
    const notify = new Set<InstanceRole>();
    for (const role of PEER_ROLES) {
      if (JSON.stringify(before[role]) !== JSON.stringify(next[role])) for (const d of DEPENDENTS[role] ?? []) notify.add(d);
    }
    for (const role of notify) {
      for (const p of byRole(role)) {
        if (p.state === 'running' && p.pid) {
          log.info({ instance: p.name }, 'peers changed; reloading');
          signalPod(p, 'SIGHUP');
        }
      }
    }
  }

  function signalPod(pod: Pod, signal: NodeJS.Signals): void {
    try {
      if (pod.pid) process.kill(pod.pid, signal);
    } catch {
      // already gone
    }
  }

  function publishEndpoint(pod: Pod): void {
    endpoints.upsert({
      role: pod.role,
      name: pod.name,
      address: pod.address,
      ready: pod.ready && pod.state === 'running',
      serving: pod.ready,
      terminating: pod.state === 'terminating',
    });
  }

  function nextOrdinal(role: InstanceRole): number {
    const used = new Set(byRole(role).map((p) => p.ordinal));
    let n = 0;
    while (used.has(n)) n++;
    return n;
  }

  function launch(pod: Pod): void {
    pod.address = opts.addresses.allocate();
    pod.state = 'starting';
    pod.ready = false;
    publishPeers();
    launchAgent(pod, opts.launch);
    log.info({ instance: pod.name, address: pod.address, pid: pod.pid }, 'instance starting');
    opts.progress({ pod, phase: pod.restarts > 0 ? 'restarting' : 'starting' });
    const exited = pod.exited;
    void exited?.then((code) => onExit(pod, code, exited));
  }

  async function onExit(pod: Pod, code: number, incarnation: Promise<number>): Promise<void> {
    if (pod.exited !== incarnation) return;
    pod.lastExitCode = code;
    if (pod.state === 'terminating' || stopping) return;
    // A crash: the pod is gone; the next incarnation gets a new address, as a rescheduled pod does.
    const ranMs = Date.now() - pod.startedAt;
    const streak = ranMs > BACKOFF_RESET_MS ? 1 : (crashStreak.get(pod.name) ?? 0) + 1;
    crashStreak.set(pod.name, streak);
    const backoffMs = Math.min(BACKOFF_BASE_MS * 2 ** (streak - 1), BACKOFF_MAX_MS);
    log.warn({ instance: pod.name, code, backoffMs }, 'instance exited; restarting after backoff');
    opts.progress({ pod, phase: 'crashed', detail: `exit ${code}, restarting in ${backoffMs} ms` });
    await cleanUp(pod);
    pod.state = 'backoff';
    pod.restarts++;
    publishPeers();
    await delay(backoffMs);
    if (stopping || !pods.has(pod.name) || pod.state !== 'backoff') return;
    launch(pod);
  }

  /** After an agent is gone: its endpoint and address go, and any daemon it left behind is stopped. */
  async function cleanUp(pod: Pod): Promise<void> {
    pod.ready = false;
    endpoints.remove(pod.name, pod.address);
    const { files, exe } = daemonPidFiles(spec, opts.launch.stateDir, pod);
    await reapOrphans(files, exe, log);
    opts.addresses.release(pod.address);
  }

  /** Since when each running instance's /livez has failed, while it does. */
  const livezFailing = new Map<Pod, number>();

  /**
   * Liveness, for a running instance: one that has failed /livez for LIVENESS_FAILURE_MS (a hung daemon, a drain
   * that never ends, an agent that no longer answers) is stopped like a crashed one (SIGTERM, its drain, SIGKILL
   * past the budget), and the crash path brings it back on a new address.
   */
  async function checkLiveness(pod: Pod): Promise<void> {
    const live = await httpProbe(pod.address, spec.ports.http, '/livez');
    if (pod.state !== 'running') return void livezFailing.delete(pod);
    if (live.ok) return void livezFailing.delete(pod);
    const since = livezFailing.get(pod) ?? Date.now();
    livezFailing.set(pod, since);
    if (Date.now() - since < LIVENESS_FAILURE_MS) return;
    livezFailing.delete(pod);
    log.warn({ instance: pod.name, livez: live.detail, failingMs: Date.now() - since }, 'instance failed its liveness probe; restarting it');
    opts.progress({ pod, phase: 'crashed', detail: `liveness failed for ${Math.round((Date.now() - since) / 1000)} s (${live.detail})` });
    await stopAgent(pod);
  }

  /**
   * SIGTERM to the agent of `pod`, and SIGKILL to its process group and its daemon's when it has not exited within
   * its stop budget: its drain budget, then the daemon's stop; only past both is it stuck (the Kubernetes renderer
   * gives the same room as terminationGracePeriodSeconds). True when it had to be killed.
   */
  async function stopAgent(pod: Pod): Promise<boolean> {
    const incarnation = pod.exited;
    signalPod(pod, 'SIGTERM');
    const stopBudgetMs = spec.drainSeconds * 1000 + STOP_TIMEOUT_MS + 5000;
    const exited = await Promise.race([(incarnation ?? Promise.resolve(0)).then(() => true), delay(stopBudgetMs, undefined, { ref: false }).then(() => false)]);
    // A later incarnation (the crash path relaunched it meanwhile) is not this one's to kill.
    if (exited || pod.exited !== incarnation || !pod.pid) return false;
    log.warn({ instance: pod.name }, 'agent did not stop in time; killing its process group and its daemon\'s');
    // The daemon leads a process group of its own (the agent ends it on a stop it finishes): found before the
    // agent dies, or a hung daemon's processes would outlive it, stopped or spinning, for good.
    const daemonGroups = descendantGroups(pod.pid);
    for (const group of [pod.pid, ...daemonGroups]) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return true;
  }

  async function probe(pod: Pod): Promise<void> {
    const [readiness] = await Promise.all([httpProbe(pod.address, spec.ports.http, '/readyz'), pod.state === 'running' ? checkLiveness(pod) : undefined]);
    let ready = readiness.ok;
    if (pod.state !== 'starting' && pod.state !== 'running' && pod.state !== 'terminating') return;
    if (ready && pod.state === 'starting') {
      pod.state = 'running';
      crashStreak.set(pod.name, crashStreak.get(pod.name) ?? 0);
      opts.progress({ pod, phase: 'ready', elapsedMs: Date.now() - pod.startedAt });
    }
    if (pod.state === 'terminating') ready = false;
    pod.ready = ready;
    publishEndpoint(pod);
  }

  const lastProbe = new Map<Pod, number>();
  async function probeLoop(): Promise<void> {
    while (!stopping) {
      const now = Date.now();
      const due = [...pods.values()].filter((p) => {
        if (p.state === 'starting') return true;
        return p.state === 'running' && now - (lastProbe.get(p) ?? 0) >= PROBE_RUNNING_MS;
      });
      for (const p of due) lastProbe.set(p, now);
      await Promise.all(due.map(probe));
      await delay(PROBE_STARTING_MS);
    }
  }

  async function waitReady(list: Pod[]): Promise<void> {
    // ldap's first start hashes every demo account's password (slowly, on purpose) before slapd runs.
    const seeding = list.some((p) => p.role === 'ldap') ? seedingBudgetMs(spec) : 0;
    const deadline = Date.now() + READY_TIMEOUT_MS + seeding;
    while (list.some((p) => p.state !== 'running')) {
      if (stopping) throw new MailfleetError('INSTANCE_START_FAILED', 'stopped while starting');
      if (Date.now() > deadline) {
        const late = list.filter((p) => p.state !== 'running').map((p) => p.name);
        throw new MailfleetError('INSTANCE_NOT_READY', `not ready after ${Math.round((READY_TIMEOUT_MS + seeding) / 1000)} s: ${late.join(', ')} (see ${opts.launch.logDir})`);
      }
      await delay(100);
    }
  }

  /** Ready, then through `afterReady` (a new mailbox backend: routable in every director). */
  async function settle(list: Pod[]): Promise<void> {
    await waitReady(list);
    const after = opts.afterReady;
    if (after) await Promise.all(list.map((p) => after(p)));
  }

  function create(role: InstanceRole): Pod {
    const ordinal = nextOrdinal(role);
    const pod: Pod = { role, name: `${role}-${ordinal}`, ordinal, address: '', state: 'stopped', ready: false, restarts: 0, startedAt: 0 };
    pods.set(pod.name, pod);
    launch(pod);
    return pod;
  }

  /**
   * Stops one instance. `replaced`: a successor starts right after (a rolling restart); the peers then change
   * once, when it starts, instead of the dependents reloading for a role with nobody in it first.
   */
  async function terminate(pod: Pod, replaced = false): Promise<void> {
    if (pod.state === 'backoff' || pod.state === 'stopped') {
      pod.state = 'stopped';
      pods.delete(pod.name);
      return;
    }
    pod.state = 'terminating';
    publishEndpoint(pod);
    opts.progress({ pod, phase: 'stopping' });
    const started = Date.now();
    // On a full stop nothing is left to drain towards.
    if (!stopping && opts.beforeStop) await opts.beforeStop(pod);
    if ((await stopAgent(pod)) && pod.pid) await waitGone(pod.pid, 2000);
    await cleanUp(pod);
    pod.state = 'stopped';
    pods.delete(pod.name);
    if (!replaced) publishPeers();
    opts.progress({ pod, phase: 'stopped', elapsedMs: Date.now() - started });
  }

  let loop: Promise<void> | undefined;

  return {
    endpoints,
    pods: () => INSTANCE_ROLES.flatMap((r) => byRole(r)),
    async up() {
      publishPeers();
      loop = probeLoop().catch((err: unknown) => log.error({ err: errorMessage(err) }, 'probe loop failed'));
      const all: Pod[] = [];
      for (const role of INSTANCE_ROLES) {
        const started = Array.from({ length: instanceReplicas(spec, role) }, () => create(role));
        await waitReady(started);
        all.push(...started);
      }
      // Backends become routable only once the proxies (started after them) are up: checked at the end.
      await settle(all);
    },
    async scale(role, replicas) {
      const current = byRole(role);
      if (replicas > current.length) {
        const started = Array.from({ length: replicas - current.length }, () => create(role));
        await settle(started);
      } else {
        const victims = current.slice(replicas).reverse();
        for (const pod of victims) await terminate(pod);
      }
    },
    async restart(role) {
      const report: { name: string; address: string; durationMs: number }[] = [];
      for (const pod of byRole(role)) {
        const started = Date.now();
        await terminate(pod, true);
        const fresh = create(role);
        await settle([fresh]);
        report.push({ name: fresh.name, address: fresh.address, durationMs: Date.now() - started });
      }
      return report;
    },
    async down() {
      stopping = true;
      for (const role of [...INSTANCE_ROLES].reverse()) await Promise.all(byRole(role).map((p) => terminate(p)));
      await loop;
    },
  };
}
