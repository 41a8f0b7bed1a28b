/**
 * The HTTP listener of every mailfleet process for its probes and metrics (kubelet probes, Prometheus scrapes), and
 * of the agent's control socket (the preStop drain): just enough HTTP/1.x, on node:net. node:http costs every agent
 * about 12 MB it keeps, and PID 1 of every pod pays it once per pod; these endpoints need a request line and one
 * short answer per connection, nothing more. {@link serveProbeEndpoints} is the `/metrics`, `/livez` and `/readyz`
 * of the processes other than the agent (policy, prober, exporter, controller, operator, the single host's runtime).
 *
 * One request per connection: the answer carries `connection: close` and the connection ends after it. The
 * request head is bounded (line length, header count) and must arrive within a deadline that does not restart on
 * every byte; header values and any body are read and dropped, never buffered.
 *
 * At most MAX_CONNECTIONS are held. The port faces the pod network (on the single host, every local user, from any
 * 127.x address), so a peer can open that many and send nothing; refusing newcomers then would refuse the kubelet's
 * probes too. A newcomer at the cap takes the place of a connection that is not being answered instead (see
 * {@link pickEvictee}): a probe sends its whole head at once and is done in milliseconds, a connection held open
 * by sending nothing or dripping bytes has not completed its head. Only when every held connection is waiting for
 * its handler's answer is the newcomer refused.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';
import { createLineSplitter, parseHttpRequestLine } from './protocol/index.ts';
import { listenOwnerOnly } from './sockets.ts';

export const MAX_LINE_BYTES = 4096;
export const MAX_HEADER_LINES = 100;
/** The whole request head must arrive within this. */
export const HEAD_TIMEOUT_MS = 10_000;
/** After the answer, how long the peer gets to close its side before the connection is dropped. */
const LINGER_MS = 5000;
/** Bytes of a request body read and dropped at most; more ends the connection. */
export const MAX_DISCARDED_BYTES = 64 * 1024;
/** Connections held at most; a newcomer past it takes the place of one {@link pickEvictee} picks, or is refused. */
export const MAX_CONNECTIONS = 64;

const REASONS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export interface HttpRequest {
  method: string;
  path: string;
}

/** Sends the one answer of a connection, with any extra header fields (names in lower case); later calls do nothing. */
export type Respond = (status: number, body: string, contentType?: string, fields?: Readonly<Record<string, string>>) => void;

/** 405, naming the methods the path allows (`allow`, as RFC 9110 asks of a 405). */
export function refuseMethod(respond: Respond, allowed: readonly string[]): void {
  respond(405, 'method not allowed\n', undefined, { allow: allowed.join(', ') });
}

/** What a request line can start with: a method's first character (a token's, RFC 9110), upper case in practice. */
const METHOD_START = /^[!#$%&'*+.^_`|~0-9A-Za-z-]/;

export interface HttpResponder {
  server: Server;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/** Reading the head, then waiting for the handler's answer, then answered (waiting for the peer to close). */
export type ConnectionStage = 'head' | 'handling' | 'answered';

/** What the cap sees of a held connection. */
export interface HeldConnection {
  readonly stage: ConnectionStage;
  /** When it entered its stage, in ms on a monotonic clock: accepted (head) or answered. */
  readonly since: number;
  /** The whole answer has been handed to the kernel, which still delivers it if the connection is dropped now. */
  readonly flushed: boolean;
}

/**
 * Which held connection makes room for a newcomer: first one answered whose answer is all with the kernel (it only
 * waits for the peer to close), then the one that has waited longest without completing its head, then one whose
 * answer its peer is not reading; each the longest in its stage first. None while every connection is being
 * handled: the newcomer is refused then.
 */
export function pickEvictee<K>(held: ReadonlyMap<K, HeldConnection>): K | undefined {
  const rank = (c: HeldConnection): number => c.stage === 'answered' ? (c.flushed ? 0 : 2) : c.stage === 'head' ? 1 : Infinity;
  let best: { key: K; rank: number; since: number } | undefined;
  for (const [key, c] of held) {
    const r = rank(c);
    if (r === Infinity) continue;
    if (best === undefined || r < best.rank || (r === best.rank && c.since < best.since)) best = { key, rank: r, since: c.since };
  }
  return best?.key;
}

function head(status: number, contentType: string, length: number, fields: Readonly<Record<string, string>>): string {
  let extra = '';
  for (const [name, value] of Object.entries(fields)) extra += `${name}: ${value}\r\n`;
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\ncontent-type: ${contentType}\r\ncache-control: no-store\r\n`
    + `${extra}content-length: ${length}\r\nconnection: close\r\n\r\n`;
}

function serveConnection(socket: Socket, handle: (req: HttpRequest, respond: Respond) => void, headTimeoutMs: number): HeldConnection {
  const lines = createLineSplitter({ maxLineBytes: MAX_LINE_BYTES });
  let state: ConnectionStage = 'head';
  let since = performance.now();
  let request: HttpRequest | undefined;
  let headers = 0;
  let discarded = 0;
  let started = false;
  const deadline = setTimeout(() => answer(408, ''), headTimeoutMs);

  function answer(status: number, body: string, contentType = 'text/plain; charset=utf-8', fields: Readonly<Record<string, string>> = {}): void {
    if (state === 'answered' || socket.destroyed) return;
    state = 'answered';
    since = performance.now();
    clearTimeout(deadline);
    const payload = request?.method === 'HEAD' ? '' : body;
    socket.end(head(status, contentType, Buffer.byteLength(body), fields) + payload);
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  function readHead(chunk: Buffer): void {
    // Not HTTP from its first byte (a TLS ClientHello starts with 0x16): answered now rather than at the head deadline.
    if (!started) {
      started = true;
      if (!METHOD_START.test(chunk.toString('latin1', 0, 1))) return answer(400, '');
    }
    for (const line of lines.push(chunk)) {
      if (!line.ok) return answer(line.error.code === 'PROTOCOL_LINE_TOO_LONG' ? 431 : 400, '');
      if (request === undefined) {
        const parsed = parseHttpRequestLine(line.value);
        if (!parsed.ok) return answer(400, '');
        request = { method: parsed.value.method, path: parsed.value.path };
      } else if (line.value !== '') {
        if (++headers > MAX_HEADER_LINES) return answer(431, '');
      } else {
        state = 'handling';
        clearTimeout(deadline);
        return handle(request, answer);
      }
    }
  }

  socket.on('data', (chunk: Buffer) => {
    if (state === 'head') return readHead(chunk);
    // After the head, whatever comes (a body, a pipelined request) is dropped, up to a bound.
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BYTES) socket.destroy();
  });
  socket.on('end', () => {
    // A peer that stops sending before its head is complete gets no answer; one waiting for its answer still gets it.
    if (state === 'head') socket.destroy();
  });
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(deadline));
  return {
    get stage() { return state; },
    get since() { return since; },
    get flushed() { return socket.writableFinished; },
  };
}

/**
 * Where a responder listens: a TCP address, or a unix socket that only its owner may connect to (mode 0600,
 * from the moment it exists).
 */
export type ListenAt = { host: string; port: number } | { path: string };

function listen(server: Server, at: ListenAt): void {
  if ('path' in at) listenOwnerOnly(server, at.path);
  else server.listen(at.port, at.host);
}

/** Listens at `at`; `handle` answers each request once through `respond`. */
export function startHttpResponder(opts: ListenAt & {
  handle: (req: HttpRequest, respond: Respond) => void;
  onError: (err: Error) => void;
  /** Default HEAD_TIMEOUT_MS. */
  headTimeoutMs?: number;
}): HttpResponder {
  /** In the order they were accepted. */
  const held = new Map<Socket, HeldConnection>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    if (held.size >= MAX_CONNECTIONS) {
      const evictee = pickEvictee(held);
      if (evictee === undefined) {
        socket.destroy();
        return;
      }
      // Now, not at its 'close': the newcomer's place is free before it is taken.
      held.delete(evictee);
      evictee.destroy();
    }
    held.set(socket, serveConnection(socket, opts.handle, opts.headTimeoutMs ?? HEAD_TIMEOUT_MS));
    socket.once('close', () => held.delete(socket));
  });
  server.on('error', opts.onError);
  listen(server, opts);
  return {
    server,
    close: () => new Promise((resolve) => {
      for (const s of held.keys()) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** What a probe answers: 200 with `detail` when ok, else 503. */
export interface ProbeVerdict {
  ok: boolean;
  detail: string;
}

const OK: ProbeVerdict = { ok: true, detail: 'ok' };

/** `ok`, or not with `detail` (`verdict(sync.ready(), 'not synced')`); `verdict(true)` for a process alive while it answers. */
export function verdict(ok: boolean, detail = 'not ready'): ProbeVerdict {
  return ok ? OK : { ok: false, detail };
}

/** The exposition text and its content type (a prom-client Registry is one). */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface ProbeEndpointsOptions {
  host: string;
  /** 0: any free port (see `address`). */
  port: number;
  /** Where `/metrics` comes from: a prom-client Registry, or any text and its content type. */
  metrics: MetricsSource;
  /** Without them, `/livez` and `/readyz` are 404: a listener for scrapes only. */
  live?: () => ProbeVerdict;
  ready?: () => ProbeVerdict;
  /** Told when collecting the metrics failed (the scrape gets 500), and of a failure of the listener once it is up. */
  log: Logger;
}

export interface ProbeEndpoints {
  readonly address: AddressInfo;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/**
 * `GET` (or `HEAD`) `/metrics`, `/livez` and `/readyz` on a responder: bounded like the agent's (a peer holding
 * connections open without a request cannot keep the kubelet's probes or the scraper out), one request per
 * connection. Resolves once listening; rejects if it cannot listen.
 */
export function serveProbeEndpoints(opts: ProbeEndpointsOptions): Promise<ProbeEndpoints> {
  const verdicts = new Map([['/livez', opts.live], ['/readyz', opts.ready]]);
  return new Promise((resolve, reject) => {
    const responder = startHttpResponder({
      host: opts.host,
      port: opts.port,
      onError: (err) => (responder.server.listening ? opts.log.error({ err: errorMessage(err) }, 'probe and metrics listener failed') : reject(err)),
      handle: (req, reply) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return refuseMethod(reply, ['GET', 'HEAD']);
        if (req.path === '/metrics') {
          opts.metrics.metrics().then((text) => reply(200, text, opts.metrics.contentType), (err: unknown) => {
            opts.log.warn({ err: errorMessage(err) }, 'metrics failed');
            reply(500, 'metrics failed\n');
          });
          return;
        }
        const answer = verdicts.get(req.path)?.();
        if (answer === undefined) return reply(404, 'not found\n');
        reply(answer.ok ? 200 : 503, `${answer.detail}\n`);
      },
    });
    responder.server.once('listening', () => {
      resolve({ address: responder.server.address() as AddressInfo, close: () => responder.close() });
    });
  });
}
