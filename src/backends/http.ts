import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** `/metrics`, `/livez` and `/readyz` of the controller process. */
export function startControllerHttp(opts: { host: string; port: number; registry: Registry; ready: () => boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(body);
      }, () => {
        res.writeHead(500);
        res.end();
      });
      return;
    }
    if (path === '/livez') return void res.writeHead(200).end('ok\n');
    if (path === '/readyz') return void res.writeHead(opts.ready() ? 200 : 503).end(opts.ready() ? 'ok\n' : 'not synced\n');
    res.writeHead(404).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
