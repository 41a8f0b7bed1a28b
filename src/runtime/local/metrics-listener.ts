import { createServer, type Server } from 'node:http';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';

/** Scrapers are few (VictoriaMetrics, a curious operator): more connections than this are refused. */
const MAX_CONNECTIONS = 16;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The runtime's own metrics (the backend-sync controller's and the certificates') on a loopback TCP address,
 * where VictoriaMetrics scrapes them as the `controller` role: `GET /metrics` and nothing else. The control
 * socket's `/metrics` serves the same text to root.
 */
export function serveRuntimeMetrics(opts: { host: string; port: number; metrics: () => Promise<string>; log: Logger }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('read-only\n');
      return;
    }
    opts.metrics().then(
      (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        opts.log.warn({ err: errorMessage(err) }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
