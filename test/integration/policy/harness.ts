/**
 * What the policy server tests share: a real redis-server on an address of the policy tests' pool (stopped,
 * killed, paused and restarted on the same port as a test needs), policy servers in this process, and a small
 * client of the policy protocol. Everything started here is stopped in `t.after`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, createConnection, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createPolicyServer, validatePolicyRules, type PolicyServer, type PolicyServerOptions, type RedisOptions } from '../../../src/policy/index.ts';
import { until } from '../../support/poll.ts';
import { findProgram } from '../protocol/daemon.ts';

/** The policy tests' own loopback addresses (127.117.0.0/16). */
export const REDIS_HOST = '127.117.0.1';
export const policyHost = (n: number): string => `127.117.1.${n}`;
export const REDIS = findProgram('redis-server');
export const SKIP = REDIS === undefined ? 'redis-server is not installed' : false;

/** A port free on `host` now: bound once, then closed. */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface RedisProcess {
  readonly host: string;
  readonly port: number;
  /** The running process (undefined while stopped). */
  pid(): number | undefined;
  /** Starts it again on the same address, empty (no persistence), and waits until it accepts commands. */
  start(): Promise<void>;
  /** SIGKILL: the connection drops at once, as when a pod dies. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: connected, but silent. */
  pause(): void;
  resume(): void;
}

export async function startRedis(t: TestContext, host = REDIS_HOST, extraArgs: readonly string[] = []): Promise<RedisProcess> {
  const port = await freePort(host);
  let child: ChildProcess | undefined;
  const args = ['--bind', host, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '', ...extraArgs];
  async function start(): Promise<void> {
    const next = spawn(REDIS as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = next;
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const look = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      next.stdout?.on('data', look);
      next.stderr?.on('data', look);
      next.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
    await Promise.race([ready, once(AbortSignal.timeout(10_000), 'abort').then(() => Promise.reject(new Error(`redis-server not ready:\n${output}`)))]);
  }
  async function kill(): Promise<void> {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGCONT');
    running.kill('SIGKILL');
    await exited;
  }
  t.after(kill);
  await start();
  return {
    host,
    port,
    pid: () => child?.pid,
    start,
    kill,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
}

/** A raw Redis command over RESP, for tests that look at the keys (one short-lived connection). */
export async function redisCommand(redis: { host: string; port: number }, ...args: string[]): Promise<string> {
  const socket = createConnection({ host: redis.host, port: redis.port });
  await once(socket, 'connect');
  socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  socket.destroy();
  return chunk.toString();
}

export const quietLog = (): Logger => pino({ level: 'silent' });

export interface RunningPolicy {
  readonly server: PolicyServer;
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Stops it (drains); `t.after` does it too. */
  stop(): Promise<void>;
}

/** A policy server in this process on `host`, port 0, with rules given as a document. */
export async function startPolicy(
  t: TestContext,
  opts: { host: string; rules: unknown; redis: RedisOptions; log?: Logger; awaitRedis?: boolean } & Partial<Omit<PolicyServerOptions, 'rules' | 'redis' | 'listen' | 'log'>>,
): Promise<RunningPolicy> {
  const { host, rules, redis, log, awaitRedis = true, ...rest } = opts;
  const server = createPolicyServer({ ...rest, rules: validatePolicyRules(rules), redis: { host: redis.host, port: redis.port, ...(redis.password === undefined ? {} : { password: redis.password }) }, listen: { host, port: 0 }, log: log ?? quietLog() });
  const abort = new AbortController();
  const running = server.start(abort.signal);
  running.catch(() => {});
  const stop = async (): Promise<void> => {
    abort.abort();
    await running;
  };
  t.after(stop);
  const address = await server.listening;
  // Requests before Redis is ready would be answered DUNNO (fail open) and not counted.
  if (awaitRedis) await until('the policy server connected to redis', async () => ((await metric(server.metrics.registry, 'mailfleet_policy_redis_up')) === 1 ? true : undefined), 10_000, 10);
  return { server, host: address.host, port: address.port, registry: server.metrics.registry, stop };
}

/** The value of one series of a metric in `registry` (0 when the series does not exist yet). */
export async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = registry.getSingleMetric(name);
  if (!found) throw new Error(`no metric ${name}`);
  const { values } = await found.get();
  // A histogram's series: its count.
  const series = name.endsWith('_seconds') ? values.filter((v) => (v as { metricName?: string }).metricName === `${name}_count`) : values;
  const match = series.find((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
  return match?.value ?? 0;
}

/** One policy request on the wire. */
export function policyRequest(attributes: Record<string, string>): string {
  return `request=smtpd_access_policy\n${Object.entries(attributes).map(([k, v]) => `${k}=${v}\n`).join('')}\n`;
}

export interface PolicyClient {
  readonly socket: Socket;
  /** Sends one request and resolves with the action of its reply. */
  ask(attributes: Record<string, string>): Promise<string>;
  /** Sends every request in one write (pipelined) and resolves with their actions, in order. */
  askAll(requests: readonly Record<string, string>[]): Promise<string[]>;
  /** Resolves when the server has closed the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

export async function openPolicyClient(t: TestContext, host: string, port: number): Promise<PolicyClient> {
  const socket = createConnection({ host, port });
  socket.on('error', () => {});
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const waiting: { resolve: (action: string) => void; reject: (err: Error) => void }[] = [];
  let buffer = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const reply = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const next = waiting.shift();
      if (!reply.startsWith('action=')) next?.reject(new Error(`not a policy reply: ${JSON.stringify(reply)}`));
      else next?.resolve(reply.slice('action='.length));
    }
  });
  void closed.then(() => {
    for (const w of waiting.splice(0)) w.reject(new Error('the server closed the connection'));
  });
  const expect = (): Promise<string> => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  return {
    socket,
    ask(attributes) {
      const reply = expect();
      socket.write(policyRequest(attributes));
      return reply;
    },
    askAll(requests) {
      const replies = requests.map(() => expect());
      socket.write(requests.map(policyRequest).join(''));
      return Promise.all(replies);
    },
    closed,
    close: () => socket.end(),
  };
}
