import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** `/metrics`, `/livez` and `/readyz` of the policy process. Read-only: nothing here changes the server. */
export async function startPolicyHttp(opts: { host: string; port: number; registry: Registry; ready: () => boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(body);
      }, () => res.writeHead(500).end());
      return;
    }
    if (path === '/livez') return void res.writeHead(200).end('ok\n');
    if (path === '/readyz') return void res.writeHead(opts.ready() ? 200 : 503).end(opts.ready() ? 'ok\n' : 'not ready\n');
    res.writeHead(404).end('not found\n');
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 64;
  server.listen(opts.port, opts.host);
  await once(server, 'listening');
  return server;
}
