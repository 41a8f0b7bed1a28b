import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AUTH_RELAY_TARGET_FILE, authRelayListenHost, authRelaySocketPath, parseAuthRelayTarget, dovecotStatsSocket, postfixProxyServices, QUOTA_RELAY_DEADLINE_MS, redisRelaySocketPath, redisSocketPath, servesTls,
  type InstanceContext, type Peers,
} from '../config/index.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Router } from '../lmtp/index.ts';
import type { QuotaRelay } from '../quota/index.ts';
import { instanceRegistry, type Registry } from '../metrics/index.ts';
import type { PlatformSpec } from '../spec/index.ts';
import { certificateSources, installCertificates, removeServedCertificates, type CertificateFacts } from './certificates.ts';
import { startCertificateWatch, type CertificateWatch } from './certificate-watch.ts';
import { DAEMONS, type ConfigSource, type Daemon, type DaemonInput, type UserSignal } from './daemons.ts';
import { drainRole, type DrainReport } from './drain.ts';
import { agentSocket } from './paths.ts';
import { shortSocketPath, startProxyGate, type ProxyGate } from './proxy-gate.ts';
import { startAgentControl } from './control.ts';
import { account, ensureDir, PRIVILEGED } from './fs.ts';
import { startHealth } from './health.ts';
import { waitUntilStartable } from './start-wait.ts';
import { readinessCheck, type AuthRelayCheck } from './readiness.ts';
import { effectiveSettings, type AgentOrigin } from './settings.ts';
import { createReloadQueue, type ReloadQueue } from './reload-queue.ts';
import { endProcessGroup, reapOrphans, spawnDaemon, waitGone, type LogFormat } from './supervise.ts';

/** How long the daemon gets to stop after SIGTERM before it is killed. */
export const STOP_TIMEOUT_MS = 20_000;
/** Processes a daemon's master left behind get this long after SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 3000;
/** After the daemon's processes are gone, how long its last log lines get to come out of the pipe. */
const RELAY_DRAIN_MS = 1000;
/** Reload requests (SIGHUP, a renewed certificate) this close together make one reload. */
const RELOAD_GATHER_MS = 200;
/** Exit status of a process killed by SIGTERM, as the supervisor reports it. */
const SIGTERM_EXIT = 128 + 15;

export interface AgentOptions {
  spec: PlatformSpec;
  instance: InstanceContext;
  peersFile: string;
  logFormat: LogFormat;
  log: Logger;
  /** Where /livez, /readyz and /metrics listen. */
  healthHost: string;
  healthPort: number;
  /** Where the inputs came from, for the effective-settings log line. */
  origin: AgentOrigin;
  /** Where the daemon's config files come from at start and on reload. Default: generated from the spec. */
  configSource?: ConfigSource;
  /**
   * Whether the daemon serves `spec.tls.certificates`. Default: by role (mta, msa, proxy). The outbound
   * pools run as an `mta` with a config of their own that serves none, and mount no certificate.
   */
  servesTls?: boolean;
  /**
   * A pod's agent waits while its daemon cannot start yet (clamd without signatures; `Daemon.startBlocker`):
   * unready, alive, logging what it waits for (start-wait.ts). Default false: the start fails, and the single
   * host's runtime retries it with backoff.
   */
  awaitStart?: boolean;
}

function readPeers(file: string): Peers {
  return JSON.parse(readFileSync(file, 'utf8')) as Peers;
}

/**
 * A `proxy` takes LMTP itself and asks its Dovecot director where each recipient lives (see src/lmtp). Only a
 * proxy's agent loads the router.
 */
async function startRouter(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<Router | undefined> {
  if (instance.role !== 'proxy') return undefined;
  const [{ startLmtpRouter }, { quantityValue }] = await Promise.all([import('../lmtp/index.ts'), import('../spec/index.ts')]);
  return startLmtpRouter({
    host: instance.listen,
    port: spec.ports.lmtp,
    hostname: instance.name,
    directorSocket: join(instance.runDir, 'director-userdb'),
    backendPort: spec.ports.lmtp,
    messageSizeLimit: spec.messageSizeLimit,
    // The pod's limit in Kubernetes; on one host the same figure, so the router behaves the same there.
    memoryLimitBytes: quantityValue(spec.kubernetes.resources.proxy.limits.memory),
    ...(instance.listen === '0.0.0.0' ? {} : { localAddress: instance.listen }),
    log,
    registry,
  });
}

/**
 * A `proxy` answers the MTAs' quota questions at RCPT time (`spec.quota.checkAtRcpt`, see src/quota): it asks its
 * director for the user's backend, as the router does, on a connection of its own whose lookups time out with the
 * relay's deadline. Only a proxy's agent loads the relay.
 */
async function startRelay(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<QuotaRelay | undefined> {
  if (instance.role !== 'proxy' || !spec.quota.checkAtRcpt) return undefined;
  const [{ startQuotaRelay }, { createDirectorLookup }] = await Promise.all([import('../quota/index.ts'), import('../lmtp/index.ts')]);
  const lookup = createDirectorLookup({ socketPath: join(instance.runDir, 'director-userdb'), timeoutMs: QUOTA_RELAY_DEADLINE_MS });
  try {
    const relay = await startQuotaRelay({
      host: instance.listen,
      port: spec.ports.quotaStatus,
      lookup,
      backendPort: spec.ports.quotaStatus,
      deadlineMs: QUOTA_RELAY_DEADLINE_MS,
      ...(instance.listen === '0.0.0.0' ? {} : { localAddress: instance.listen }),
      log: log.child({ component: 'quota-relay' }),
      registry,
    });
    return {
      port: relay.port,
      async close(budgetMs) {
        await relay.close(budgetMs);
        lookup.close();
      },
    };
  } catch (err) {
    lookup.close();
    throw err;
  }
}

/**
 * The msas' SMTP AUTH crosses the pod network only inside TLS keyed by the relay key (src/auth-relay): a `proxy`'s
 * agent takes the auth port and joins each keyed connection to Dovecot auth's unix socket; an `msa`'s agent takes
 * its Postfix's SASL connections on loopback and carries them to the proxy `auth-relay-target` names. Only their
 * agents load the relay.
 */
async function startAuthRelay(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<{ close(): Promise<void> } | undefined> {
  if (instance.role !== 'proxy' && instance.role !== 'msa') return undefined;
  const [{ startAuthRelayClient, startAuthRelayServer }, { authRelayRuns, requireSecret }] = await Promise.all([import('../auth-relay/index.ts'), import('../spec/index.ts')]);
  if (!authRelayRuns(spec)) return undefined;
  const secret = requireSecret(spec, 'authRelayKey');
  const relayLog = log.child({ component: 'auth-relay' });
  if (instance.role === 'proxy') {
    return startAuthRelayServer({ host: instance.listen, port: spec.ports.auth, secret, upstreamPath: authRelaySocketPath(instance), log: relayLog, registry });
  }
  const targetFile = join(instance.configDir, AUTH_RELAY_TARGET_FILE);
  return startAuthRelayClient({
    host: authRelayListenHost(instance),
    port: spec.ports.auth,
    target: () => parseAuthRelayTarget(readFileSync(targetFile, 'utf8')),
    secret,
    identity: instance.name,
    ...(instance.listen === '0.0.0.0' ? {} : { localAddress: instance.listen }),
    log: relayLog,
    registry,
  });
}

/** An `as` agent carries rspamd's Redis connections over TLS to the kvs (redis-relay.ts), to wherever the kvs is now. */
async function startFilterRedisRelay(spec: PlatformSpec, instance: AgentOptions['instance'], peers: () => Peers, log: Logger, registry: Registry): Promise<{ close(): Promise<void> } | undefined> {
  if (instance.role !== 'as') return undefined;
  const [{ startRedisRelay }, { redisCa }, { requireSecret }, { RSPAMD_USER }] = await Promise.all([
    import('./redis-relay.ts'), import('../internal-tls/index.ts'), import('../spec/index.ts'), import('./filter-daemons.ts'),
  ]);
  return startRedisRelay({
    path: redisRelaySocketPath(instance),
    // rspamd's workers connect as its user; an unprivileged agent (tests) runs rspamd as itself.
    ...(PRIVILEGED ? { gid: account(RSPAMD_USER).gid } : {}),
    target: () => {
      const kvs = peers().kvs[0];
      return kvs === undefined ? undefined : { host: kvs.host, port: spec.ports.redis };
    },
    ca: redisCa(requireSecret(spec, 'redisPassword')).certPem,
    ...(instance.listen === '0.0.0.0' ? {} : { localAddress: instance.listen }),
    log: log.child({ component: 'redis-relay' }),
    registry,
  });
}

/** What a proxy's readiness checks of its SMTP AUTH path, while msas relay to it. */
async function proxyAuthRelayCheck(spec: PlatformSpec, instance: AgentOptions['instance']): Promise<AuthRelayCheck | undefined> {
  if (instance.role !== 'proxy') return undefined;
  const { authRelayRuns, requireSecret } = await import('../spec/index.ts');
  if (!authRelayRuns(spec)) return undefined;
  return { socketPath: authRelaySocketPath(instance), secret: requireSecret(spec, 'authRelayKey'), identity: `${instance.name}-readiness` };
}

/**
 * An `mta` or `msa` behind a load balancer: the balancer ports are the agent's, which lets only the
 * balancer ranges through to Postfix's PROXY-protocol services (see proxy-gate.ts).
 */
function startGate(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<ProxyGate> | undefined {
  if (instance.role !== 'mta' && instance.role !== 'msa') return undefined;
  const services = postfixProxyServices(instance.role, spec);
  if (services.length === 0) return undefined;
  const listeners = services.map(({ service, port }) => ({
    service,
    host: instance.listen,
    port,
    socketPath: shortSocketPath(instance.runDir, service, join(instance.dataDir, 'queue', 'private', service)),
  }));
  return startProxyGate({ listeners, trusted: spec.loadBalancer.sourceRanges, log, registry });
}

/**
 * A `proxy` or `mailbox` serves Dovecot's own metrics through its agent's /metrics (dovecot-metrics.ts); only
 * their agents load the relay.
 */
async function dovecotRelay(instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<(() => Promise<string>) | undefined> {
  if (instance.role !== 'proxy' && instance.role !== 'mailbox') return undefined;
  const { createDovecotMetricsRelay } = await import('./dovecot-metrics.ts');
  return createDovecotMetricsRelay({ socketPath: dovecotStatsSocket(instance), registry, labels: { role: instance.role, instance: instance.name }, log });
}

/**
 * An `as` serves rspamd's metrics through its agent's /metrics (rspamd-metrics.ts): the controller wants its
 * password, which no scraper sends. Only its agent loads the relay.
 */
async function rspamdRelay(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<(() => Promise<string>) | undefined> {
  if (instance.role !== 'as') return undefined;
  const [{ createRspamdMetricsRelay }, { requireSecret }] = await Promise.all([import('./rspamd-metrics.ts'), import('../spec/index.ts')]);
  const host = instance.listen === '0.0.0.0' ? '127.0.0.1' : instance.listen;
  return createRspamdMetricsRelay({
    host, port: spec.ports.rspamd, password: requireSecret(spec, 'filterControllerPassword'), registry, labels: { role: instance.role, instance: instance.name }, log,
  });
}

/**
 * A `kvs` serves Redis's figures through its agent's /metrics (redis-metrics.ts): INFO over the unix socket, with the
 * password no scraper has. Only its agent loads the relay.
 */
async function redisMetricsRelay(spec: PlatformSpec, instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<(() => Promise<string>) | undefined> {
  if (instance.role !== 'kvs') return undefined;
  const [{ createRedisMetricsRelay }, { requireSecret }] = await Promise.all([import('./redis-metrics.ts'), import('../spec/index.ts')]);
  return createRedisMetricsRelay({
    socketPath: redisSocketPath(instance), password: requireSecret(spec, 'redisPassword'), registry, labels: { role: instance.role, instance: instance.name }, log,
  });
}

/**
 * An `mta` or `msa` counts its Postfix's log lines and reads its queue into the agent's metrics
 * (src/exporter): the lines are the ones the agent relays from the daemon's stdout anyway, so the parsing
 * costs no second reader and no other process in the pod.
 */
async function postfixExporter(instance: AgentOptions['instance'], log: Logger, registry: Registry): Promise<((line: Buffer) => void) | undefined> {
  if (instance.role !== 'mta' && instance.role !== 'msa') return undefined;
  const { createPostfixExporter } = await import('../exporter/in-agent.ts');
  const exporter = createPostfixExporter({ registry, showqPath: join(instance.dataDir, 'queue', 'public', 'showq'), log });
  return (line) => exporter.line(line);
}

/** The roles with TLS listeners watch their certificates and reload their daemon on a new one (certificate-watch.ts). */
function watchCertificates(daemon: Daemon, input: () => DaemonInput, reloads: ReloadQueue, serving: CertificateFacts[] | undefined, log: Logger, registry: Registry): CertificateWatch | undefined {
  if (serving === undefined || daemon.reloadCertificates === undefined) return undefined;
  const { spec, instance } = input();
  return startCertificateWatch({ sources: certificateSources(spec, instance), serving, reload: () => reloads.request('certificates'), log, registry });
}

/**
 * Runs one instance: init, the daemon in the foreground, health endpoints, reload on SIGHUP.
 * Resolves with the daemon's exit status once it has stopped (after `signal` aborts, or on its own).
 */
export async function runAgent(opts: AgentOptions, signal: AbortSignal): Promise<number> {
  const { spec, instance, log } = opts;
  const daemon = DAEMONS[instance.role];
  const input = (): DaemonInput => ({ spec, instance, peers: readPeers(opts.peersFile), configSource: opts.configSource, log });
  log.info({ settings: effectiveSettings(opts) }, 'effective settings');

  const argv = daemon.command(input());
  await reapOrphans(daemon.pidFiles(input()), argv[0] ?? '', log);
  // One registry for everything this agent exports, every series labelled with its role and instance.
  const registry = instanceRegistry(instance.role, instance.name);
  const { startBlocker } = daemon;
  if (opts.awaitStart && startBlocker !== undefined) {
    const blocker = () => startBlocker(input());
    if (!(await waitUntilStartable({ blocker, host: opts.healthHost, port: opts.healthPort, registry, log }, signal))) return 0;
  }
  await daemon.init(input());
  // After init, which empties the run dir the served copies live in.
  const serving = (opts.servesTls ?? servesTls(instance.role)) ? installCertificates(spec, instance) : undefined;
  if (serving) log.info({ certificates: serving.map((f) => ({ name: f.name, dnsNames: f.dnsNames, notAfter: f.notAfter.toISOString() })) }, 'certificates installed');
  // Only proxies and backends speak the backend hop's TLS; other roles never load it.
  const backendTlsCode = instance.role === 'proxy' || instance.role === 'mailbox' ? await import('./backend-tls.ts') : undefined;
  const installBackend = () => backendTlsCode?.installBackendTls(spec, instance, input().peers);
  const backendTlsEnd = installBackend();
  // A proxy's Dovecot asks the policy server about logins over HTTPS, trusting the hop's CA alone, and serves its
  // doveadm HTTP API over TLS with a certificate its agent issues (doveadm-tls.ts).
  if (instance.role === 'proxy') (await import('./auth-policy-ca.ts')).installAuthPolicyCa(spec, instance);
  const doveadmTlsCode = instance.role === 'proxy' ? await import('./doveadm-tls.ts') : undefined;
  const doveadmTlsEnd = doveadmTlsCode?.installDoveadmTls(spec, instance, input().peers);
  if (doveadmTlsEnd) log.info({ notAfter: doveadmTlsEnd.toISOString() }, 'doveadm TLS certificate issued');
  if (backendTlsEnd) log.info({ notAfter: backendTlsEnd.toISOString() }, 'backend TLS certificate issued');
  // slapd serves its clients TLS with a certificate its agent issues (ldap-tls.ts).
  const ldapTlsCode = instance.role === 'ldap' ? await import('./ldap-tls.ts') : undefined;
  const ldapTlsEnd = ldapTlsCode?.installLdapTls(spec, instance, input().peers);
  if (ldapTlsEnd) log.info({ notAfter: ldapTlsEnd.toISOString() }, 'LDAP TLS certificate issued');
  // Redis serves its clients TLS only, with a certificate its agent issues (redis-tls.ts).
  const redisTlsCode = instance.role === 'kvs' ? await import('./redis-tls.ts') : undefined;
  const redisTlsEnd = redisTlsCode?.installRedisTls(spec, instance, input().peers);
  if (redisTlsEnd) log.info({ notAfter: redisTlsEnd.toISOString() }, 'Redis TLS certificate issued');
  log.info({ argv }, 'starting daemon');
  ensureDir(instance.runDir, 0o755);
  const postfixLines = await postfixExporter(instance, log, registry);
  const proc = spawnDaemon(argv, {
    format: opts.logFormat,
    role: instance.role,
    instance: instance.name,
    runDir: instance.runDir,
    ...(postfixLines ? { onStdoutLine: postfixLines } : {}),
  });
  const [ownPidFile] = daemon.agentWritesPidFile ? daemon.pidFiles(input()) : [];
  if (ownPidFile !== undefined) writeFileSync(ownPidFile, `${proc.pid}\n`, { mode: 0o644 });
  let running = true;
  let draining = false;
  void proc.exited.then(() => {
    running = false;
  });

  let router: Router | undefined;
  let quotaRelay: QuotaRelay | undefined;
  let gate: ProxyGate | undefined;
  let authRelay: { close(): Promise<void> } | undefined;
  let redisRelay: { close(): Promise<void> } | undefined;
  try {
    router = await startRouter(spec, instance, log, registry);
    quotaRelay = await startRelay(spec, instance, log, registry);
    gate = await startGate(spec, instance, log, registry);
    authRelay = await startAuthRelay(spec, instance, log, registry);
    redisRelay = await startFilterRedisRelay(spec, instance, () => input().peers, log, registry);
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'lmtp router, quota relay, proxy gate, auth relay or Redis relay failed to start');
    await Promise.all([router?.close(0), quotaRelay?.close(0), gate?.close(), authRelay?.close(), redisRelay?.close()]);
    proc.child.kill('SIGTERM');
    await proc.exited;
    await endProcessGroup(proc.pid, LEFTOVER_GRACE_MS);
    if (serving) removeServedCertificates(instance);
    return 1;
  }

  // SIGHUP (peers moved) and certificate renewals reload the daemon one at a time, bursts coalesced.
  const reloads = createReloadQueue({
    gatherMs: RELOAD_GATHER_MS,
    settleMs: daemon.reloadSettleMs ?? 0,
    run: (kind) => (kind === 'certificates' && daemon.reloadCertificates ? daemon.reloadCertificates(input(), proc.pid) : daemon.reload(input(), proc.pid)),
  });
  const certificates = watchCertificates(daemon, input, reloads, serving, log, registry);
  const backendTls = backendTlsEnd && backendTlsCode?.renewBackendTls({ notAfter: backendTlsEnd, issue: installBackend, reload: () => reloads.request('certificates'), log, registry });
  const ldapTls = ldapTlsEnd && ldapTlsCode?.renewLdapTls({ spec, instance, peers: () => input().peers, notAfter: ldapTlsEnd, log, registry });
  const redisTls = redisTlsEnd && redisTlsCode?.renewRedisTls({ spec, instance, peers: () => input().peers, notAfter: redisTlsEnd, log, registry });
  const doveadmTls = doveadmTlsEnd && doveadmTlsCode?.renewDoveadmTls({
    spec, instance, peers: () => input().peers, notAfter: doveadmTlsEnd, reload: () => reloads.request('certificates'), log, registry,
  });
  const relay = (await dovecotRelay(instance, log, registry)) ?? (await rspamdRelay(spec, instance, log, registry)) ?? (await redisMetricsRelay(spec, instance, log, registry));

  const budgetMs = spec.drainSeconds * 1000;
  let drainStartedAt: number | undefined;
  let drained: Promise<DrainReport> | undefined;
  const drain = (): Promise<DrainReport> => {
    draining = true;
    drainStartedAt ??= Date.now();
    // The router stops taking sessions at once; those open finish their transactions within the budget.
    // The quota relay stops too: the mtas' questions then go unanswered and their mail is let through unchecked.
    drained ??= Promise.all([drainRole(input(), budgetMs, log), router?.close(budgetMs), quotaRelay?.close(budgetMs)]).then(([report]) => {
      log[report.completed ? 'info' : 'warn']({ completed: report.completed, detail: report.detail, durationMs: report.durationMs }, 'drain finished');
      return report;
    });
    return drained;
  };

  const health = startHealth({
    host: opts.healthHost,
    port: opts.healthPort,
    check: readinessCheck(instance.role, spec, instance.listen, 2000, Date.now, {
      ...await proxyAuthRelayCheck(spec, instance).then((authRelay) => (authRelay === undefined ? {} : { authRelay })),
      ...(instance.role === 'kvs' ? { redisSocket: redisSocketPath(instance) } : {}),
    }),
    state: { daemonRunning: () => running, drainStartedAt: () => drainStartedAt },
    log,
    hungAfterMs: spec.hungSeconds * 1000,
    drainBudgetMs: budgetMs,
    registry,
    ...(relay ? { relay } : {}),
  });

  // The preStop hook (`mailfleet agent drain`) asks here: the HTTP port takes no control action.
  const control = startAgentControl({ path: agentSocket(instance.runDir), drain, log });

  const onHup = () => {
    reloads.request('config').then(
      () => log.info('daemon reloaded'),
      (err: unknown) => log.error({ err: errorMessage(err) }, 'reload failed'),
    );
  };
  process.on('SIGHUP', onHup);
  // A user signal goes on to the daemon only where it means something there (Dovecot: SIGUSR1 reopens its logs);
  // elsewhere it would stop the daemon, so it is logged and dropped. Both are always handled here: an unhandled
  // SIGUSR2 would end the agent (the CLI's own SIGUSR1 handler only keeps Node's inspector shut).
  const userSignal = (sig: UserSignal) => () => {
    const meaning = daemon.userSignals?.[sig];
    if (meaning === undefined) {
      log.warn({ signal: sig }, `${sig} not passed on: the daemon has no use for it and would stop`);
      return;
    }
    log.info({ signal: sig }, `${sig} passed on to the daemon, which ${meaning}`);
    proc.child.kill(sig);
  };
  const forwarded = (['SIGUSR1', 'SIGUSR2'] as const).map((sig) => [sig, userSignal(sig)] as const);
  for (const [sig, handler] of forwarded) process.on(sig, handler);

  const stop = async () => {
    draining = true;
    if (running) await drain();
    log.info('stopping daemon');
    proc.child.kill('SIGTERM');
    if (!(await waitGone(proc.pid, STOP_TIMEOUT_MS))) {
      log.warn({ timeoutMs: STOP_TIMEOUT_MS }, 'daemon did not stop in time; killing it');
      proc.child.kill('SIGKILL');
    }
  };
  if (signal.aborted) void stop();
  else signal.addEventListener('abort', () => void stop(), { once: true });

  const code = await proc.exited;
  // What the master left: sessions it let run on (Dovecot), or helpers of a master that crashed.
  if (await endProcessGroup(proc.pid, LEFTOVER_GRACE_MS)) log.info('ended the processes the daemon left behind');
  // The daemon's last lines, still in the pipe; bounded, should something else hold it open.
  await Promise.race([proc.relayed, delay(RELAY_DRAIN_MS, undefined, { ref: false })]);
  certificates?.close();
  backendTls?.close();
  ldapTls?.close();
  doveadmTls?.close();
  redisTls?.close();
  if (serving) removeServedCertificates(instance);
  // Open splices end with the daemon; the balancer ports and the auth and Redis relays close with it.
  await Promise.all([gate?.close(), quotaRelay?.close(0), authRelay?.close(), redisRelay?.close()]);
  process.off('SIGHUP', onHup);
  for (const [sig, handler] of forwarded) process.off(sig, handler);
  await Promise.all([health.close(), control.close()]);
  log[draining ? 'info' : 'error']({ code }, draining ? 'daemon stopped' : 'daemon exited');
  // A daemon that ends on the SIGTERM we sent it (Postfix's master does) stopped as asked: exit 0.
  return draining && code === SIGTERM_EXIT ? 0 : code;
}
