/**
 * The logs gateway: the only way to Loki from the pod network. Loki listens on its pod's loopback; this listens on
 * the pod's port and passes on pushes and reads only ({@link lokiRoute}), streaming both ways, so Loki's
 * endpoints that delete logs or stop its ingester are out of reach even of a pod the NetworkPolicy lets in.
 *
 * Bounded: at most {@link MAX_CONNECTIONS} connections, a request head within 10 s, a body of at most
 * `maxBodyBytes` (counted as it streams, whatever Content-Length said), and an answer from Loki within
 * `upstreamTimeoutMs`.
 */
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.ts';
import { createLogThrottle } from '../policy/log-throttle.ts';
import { lokiRoute } from './routes.ts';
import { refuseClientError } from '../http-refusal.ts';

export interface LogsGatewayOptions {
  host: string;
  port: number;
  /** Loki's HTTP listener on the pod's loopback. */
  upstream: { host: string; port: number };
  log: Logger;
  /** Largest request body passed on. Default 16 MiB (promtail sends batches of 1 MiB). */
  maxBodyBytes?: number;
  /** How long Loki may take to start answering. Default 5 minutes (a long range query). */
  upstreamTimeoutMs?: number;
}

export interface LogsGateway {
  address: AddressInfo;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then ends the rest. */
  close(graceMs?: number): Promise<void>;
}

const MAX_CONNECTIONS = 512;
const HEAD_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;
const DEFAULT_UPSTREAM_TIMEOUT_MS = 300_000;
/** Headers of one hop only (RFC 9110 section 7.6.1), never passed on; `host` is Loki's own. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host']);
const REFUSAL_LOG_INTERVAL_MS = 6_000;
/** Answered here, not by Loki: the gateway's own liveness. */
const LIVEZ = '/livez';

function passedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_HEADERS.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function refuse(res: ServerResponse, status: number, reason: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${reason}\n`);
}

export async function startLogsGateway(opts: LogsGatewayOptions): Promise<LogsGateway> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const upstreamTimeoutMs = opts.upstreamTimeoutMs ?? DEFAULT_UPSTREAM_TIMEOUT_MS;
  const log = opts.log;
  // A scan must not flood the log: one line per kind of refusal and interval, saying how many were left out.
  const throttle = createLogThrottle(log, REFUSAL_LOG_INTERVAL_MS);

  function logRefusal(req: IncomingMessage, path: string, status: number, reason: string): void {
    throttle.warn(`refused-${status}-${reason}`, { method: req.method, path: path.slice(0, 200), status, reason, peer: req.socket.remoteAddress }, 'request refused');
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? '';
    const path = target.split('?', 1)[0] ?? '';
    const method = req.method ?? '';
    if (method === 'GET' && path === LIVEZ) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (!target.startsWith('/')) return refuse(res, 400, 'origin-form request target expected');
    const verdict = lokiRoute(method, path);
    if (!verdict.pass) {
      logRefusal(req, path, verdict.status, verdict.reason);
      return refuse(res, verdict.status, `mailfleet logs gateway: ${verdict.reason}`);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!Number.isFinite(declared) || declared > maxBody) return refuse(res, 413, `mailfleet logs gateway: a body of at most ${maxBody} bytes`);

    const upstream = request({
      host: opts.upstream.host, port: opts.upstream.port, method, path: target,
      headers: { ...passedHeaders(req.headers), 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      timeout: upstreamTimeoutMs,
    });
    upstream.on('timeout', () => upstream.destroy(new Error('Loki did not answer in time')));
    upstream.on('error', (err) => {
      log.warn({ err: err.message, method, path: path.slice(0, 200) }, 'Loki request failed');
      refuse(res, 502, 'mailfleet logs gateway: Loki did not answer');
      req.destroy();
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, passedHeaders(answer.headers));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBody) {
        upstream.destroy();
        refuse(res, 413, `mailfleet logs gateway: a body of at most ${maxBody} bytes`);
        req.destroy();
        return;
      }
      if (!upstream.write(chunk)) {
        req.pause();
        upstream.once('drain', () => req.resume());
      }
    });
    req.on('end', () => upstream.end());
    req.on('error', () => upstream.destroy());
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  // Deadlines are checked every second, not Node's default 30 s: a stalled head is cut off about when it is due.
  const server: Server = createServer({ connectionsCheckingInterval: 1000 }, handle);
  server.headersTimeout = HEAD_TIMEOUT_MS;
  // The whole request, body included, within this: a push is small, a trickled body is cut off.
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  server.maxConnections = MAX_CONNECTIONS;
  server.maxHeadersCount = 100;
  server.on('clientError', refuseClientError);
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  return {
    address: server.address() as AddressInfo,
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
    },
  };
}
