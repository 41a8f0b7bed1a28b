/** `/metrics`, `/livez` and `/readyz` of the prober, for the scraper and the kubelet (or the single-host runtime). */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Health } from './prober.ts';

export interface ProbeHttp {
  server: Server;
  close(): Promise<void>;
}

/** Listens on `host:port` (port 0: any free one, see `server.address()`). */
export function startProbeHttp(opts: { host: string; port: number; registry: Registry; live: () => Health; ready: () => Health }): Promise<ProbeHttp> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end('method not allowed\n');
    if (path === '/metrics') {
      opts.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType, 'cache-control': 'no-store' });
        res.end(body);
      }, () => res.writeHead(500).end());
      return;
    }
    const health = path === '/livez' ? opts.live() : path === '/readyz' ? opts.ready() : undefined;
    if (health === undefined) return void res.writeHead(404).end('not found\n');
    res.writeHead(health.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(`${health.detail}\n`);
  });
  // Probes and scrapes come one request per connection; nothing is held open for them.
  server.keepAliveTimeout = 1000;
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.maxConnections = 64;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
