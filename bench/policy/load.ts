/**
 * The load generator: `connections` persistent TCP connections to a policy server, each doing what one smtpd
 * process does with its policy connection: send a request, wait for `action=…` and the empty line, send the next
 * (a closed loop, one request in flight per connection). A warm-up, then a timed window in which every reply is
 * counted by its action and its latency (write of the request → end of the reply) is recorded in a histogram.
 *
 * It runs in its own process (the bench forks this file), so it never shares an event loop with the bench or with
 * a server under test; it reports the window's start and end as they happen, so the bench can read the server's
 * CPU and memory at those moments, then its figures. Requests come from a pool encoded once (`requests.ts`) and
 * replies are read into a fixed buffer per connection (`framing.ts`): sending and receiving allocate nothing
 * beyond the chunks Node.js reads.
 *
 *   node bench/policy/load.ts '{"host":"127.118.0.1","port":10040,"connections":8,…}'   (with an IPC channel)
 */
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MAX_VERBS, ReplyReader } from './framing.ts';
import { createHistogram, type LatencySummary } from './histogram.ts';
import { requestPool } from './requests.ts';

export interface LoadOptions {
  host: string;
  port: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** Seed of the request pool. */
  seed: number;
  /** Requests in the pool the connections cycle through (each connection from its own offset). */
  poolRequests: number;
  /** Distinct client addresses in the pool. */
  clients: number;
  /** A connection with no reply for this long fails the run. */
  replyTimeoutMs: number;
  /** Connecting one connection takes at most this long. */
  connectTimeoutMs: number;
}

export interface LoadReport {
  connections: number;
  /** Replies that arrived inside the timed window. */
  requests: number;
  /** Length of the timed window. */
  seconds: number;
  /** Microseconds, of the replies counted. */
  latency: LatencySummary;
  /** Replies by action verb (upper-case), inside the window. */
  actions: Record<string, number>;
  warmupRequests: number;
  /** CPU seconds the load generator used inside the window. */
  cpuS: number;
  poolMeanBytes: number;
  clients: number;
}

export type LoadMessage =
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'report'; report: LoadReport }
  | { type: 'error'; message: string };

/** Bytes of replies in flight after the window that the generator still reads, for at most this long. */
const DRAIN_MS = 5000;
const WATCHDOG_MS = 500;

interface Connection {
  socket: Socket;
  reader: ReplyReader;
  cursor: number;
  sentAt: number;
  waiting: boolean;
}

function connectOne(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const timer = setTimeout(() => socket.destroy(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

const cpuS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Runs the load and resolves with its figures; `emit` hears the window start and end as they happen. The
 * connections are opened one after the other first (policyd-rate-limit listens with a backlog of 5).
 */
export async function runLoad(opts: LoadOptions, emit: (m: LoadMessage) => void): Promise<LoadReport> {
  const pool = requestPool({ seed: opts.seed, requests: opts.poolRequests, clients: opts.clients });
  const requests = pool.requests;
  const verbs: string[] = [];
  const counts = new Float64Array(MAX_VERBS + 1);
  const histogram = createHistogram();
  let phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  let warmupRequests = 0;
  let inFlight = 0;
  // Set by the event handlers while the code below awaits; read only through throwIfFailed.
  const state: { failure?: Error } = {};
  let wake: () => void = () => undefined;
  const fail = (err: Error) => {
    state.failure ??= err;
    wake();
  };
  const throwIfFailed = () => {
    if (state.failure) throw state.failure;
  };

  const conns: Connection[] = [];
  try {
    for (let i = 0; i < opts.connections; i++) {
      const socket = await connectOne(opts.host, opts.port, opts.connectTimeoutMs);
      conns.push({ socket, reader: new ReplyReader(verbs), cursor: Math.floor((i * requests.length) / opts.connections), sentAt: 0, waiting: false });
    }
  } catch (err) {
    for (const c of conns) c.socket.destroy();
    throw new Error(`connection ${conns.length + 1} of ${opts.connections} to ${opts.host}:${opts.port}: ${(err as Error).message}`, { cause: err });
  }

  const send = (c: Connection) => {
    const req = requests[c.cursor] as Buffer;
    c.cursor = c.cursor + 1 === requests.length ? 0 : c.cursor + 1;
    c.waiting = true;
    inFlight++;
    c.sentAt = performance.now();
    c.socket.write(req);
  };

  conns.forEach((c, i) => {
    const onReply = (verb: number) => {
      const now = performance.now();
      c.waiting = false;
      inFlight--;
      if (phase === 'measure') {
        histogram.record((now - c.sentAt) * 1000);
        counts[verb] = (counts[verb] as number) + 1;
      } else if (phase === 'warmup') {
        warmupRequests++;
      }
      if (phase !== 'drain') send(c);
      else if (inFlight === 0) wake();
    };
    c.socket.on('data', (chunk: Buffer) => {
      const err = c.reader.feed(chunk, onReply);
      if (err !== undefined) fail(new Error(`connection ${i + 1}: ${err}`));
    });
    c.socket.on('error', (err) => fail(new Error(`connection ${i + 1}: ${err.message}`)));
    c.socket.on('close', () => {
      if (phase !== 'drain') fail(new Error(`connection ${i + 1}: closed by the server${c.waiting ? ' without answering a request' : ''}`));
    });
  });

  const watchdog = setInterval(() => {
    const now = performance.now();
    const stuck = conns.findIndex((c) => c.waiting && now - c.sentAt > opts.replyTimeoutMs);
    if (stuck >= 0) fail(new Error(`connection ${stuck + 1}: no reply within ${opts.replyTimeoutMs} ms`));
  }, WATCHDOG_MS);

  const until = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

  let windowStart: number;
  let windowEnd: number;
  let cpu0: number;
  let cpu1: number;
  try {
    for (const c of conns) send(c);
    await until(opts.warmupMs);
    throwIfFailed();
    phase = 'measure';
    windowStart = performance.now();
    cpu0 = cpuS();
    emit({ type: 'window-start' });
    await until(opts.durationMs);
    throwIfFailed();
    phase = 'drain';
    windowEnd = performance.now();
    cpu1 = cpuS();
    emit({ type: 'window-end' });
    if (inFlight > 0) await until(DRAIN_MS);
    throwIfFailed();
  } finally {
    clearInterval(watchdog);
    phase = 'drain';
    for (const c of conns) c.socket.destroy();
  }

  const actions: Record<string, number> = {};
  verbs.forEach((v, i) => {
    if ((counts[i] as number) > 0) actions[v] = counts[i] as number;
  });
  return {
    connections: opts.connections,
    requests: histogram.count,
    seconds: (windowEnd - windowStart) / 1000,
    latency: histogram.summary(),
    actions,
    warmupRequests,
    cpuS: cpu1 - cpu0,
    poolMeanBytes: pool.meanBytes,
    clients: pool.clients.length,
  };
}

/** As a child process: options as JSON in argv[2], messages over the IPC channel, then exit. */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const send = (m: LoadMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));
  try {
    const opts = JSON.parse(process.argv[2] ?? '') as LoadOptions;
    const report = await runLoad(opts, (m) => void send(m));
    await send({ type: 'report', report });
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  }
  process.disconnect?.();
}
