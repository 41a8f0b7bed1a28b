import { createServer, type Server } from 'node:http';
import { errorMessage } from '../../../errors.ts';
import type { Logger } from '../../../log.ts';
import { EXPOSITION_CONTENT_TYPE } from './metrics.ts';

/** `/metrics`, `/livez` and `/readyz` of the operator process (as the controller serves them). */
export function startOperatorHttp(opts: { host: string; port: number; metrics: () => Promise<string>; ready: () => boolean; log: Logger }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.metrics().then((body) => {
        res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE });
        res.end(body);
      }, (err: unknown) => {
        opts.log.warn({ err: errorMessage(err) }, 'metrics failed');
        res.writeHead(500).end();
      });
      return;
    }
    if (path === '/livez') return void res.writeHead(200).end('ok\n');
    if (path === '/readyz') return void (opts.ready() ? res.writeHead(200).end('ok\n') : res.writeHead(503).end('not synced\n'));
    res.writeHead(404).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
