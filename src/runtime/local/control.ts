import { request, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenOwnerOnly } from '../../sockets.ts';
import { errorMessage, isMailfleetError, MailfleetError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { INSTANCE_ROLES, roleRefusal, ROLES, type InstanceRole, type Role } from '../../spec/index.ts';
import type { LocalRuntime } from './runtime.ts';
import { statusReport } from './status.ts';
import type { PlatformSpec } from '../../spec/index.ts';
import type { DirectorView } from '../../backends/index.ts';
import type { CertificateStatus } from '../../tls/index.ts';
import type { FiguresReport } from './figures.ts';
import type { MonitoringStatus } from './monitoring.ts';

/**
 * The runtime's control API: HTTP/1.1 with JSON bodies on a unix socket in the state directory, mode 0600 (root only).
 *   GET  /v1/status[?figures=1]     every instance, mailbox backends as the directors list them now, the certificates,
 *                                   the metrics processes; with figures=1 also live figures per role (a short deadline)
 *   GET  /v1/endpoints?watch=1      NDJSON: the current endpoints as ADDED, a SYNCED marker, then changes
 *   POST /v1/scale {role,replicas}  answers when the role has that many ready instances (a new mailbox: routable
 *                                   in every director; a removed one: drained out of them)
 *   POST /v1/restart {role}         rolling restart; answers when the last instance is ready again
 *   POST /v1/down                   answers at once; the runtime then stops everything and exits
 *   GET  /metrics                   the backend-sync controller's and the certificates' metrics (Prometheus text)
 */
export function startControlServer(opts: {
  socketPath: string;
  runtime: LocalRuntime;
  spec: PlatformSpec;
  log: Logger;
  onDown: () => void;
  /** Every director's host list, asked when called. */
  directorView: () => Promise<DirectorView[]>;
  /** Every server certificate: names and dates, never key material. */
  certificates: () => CertificateStatus[];
  metrics: () => Promise<string>;
  /** The metrics and alerting processes, when they run. */
  monitoring?: () => MonitoringStatus | undefined;
  /** Live figures per role, asked of VictoriaMetrics; never throws. */
  figures?: () => Promise<FiguresReport>;
}): Promise<Server> {
  const { runtime, log } = opts;

  async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65536) throw new MailfleetError('CONTROL_REQUEST_INVALID', 'request body too large');
      chunks.push(chunk as Buffer);
    }
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, unknown>;
    } catch (err) {
      throw new MailfleetError('CONTROL_REQUEST_INVALID', 'request body is not a JSON object', { cause: err });
    }
  }

  const json = (res: ServerResponse, status: number, value: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value) + '\n');
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://control');
    if (req.method === 'GET' && url.pathname === '/v1/status') {
      const withFigures = url.searchParams.get('figures') === '1' && opts.figures;
      const monitoring = opts.monitoring?.();
      const [views, figures] = await Promise.all([opts.directorView(), withFigures ? withFigures() : undefined]);
      return json(res, 200, statusReport(opts.spec, runtime.pods(), views, opts.certificates(), {
        ...(monitoring ? { monitoring } : {}),
        ...(figures ? { figures } : {}),
      }));
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(await opts.metrics());
      return;
    }
    if (req.method === 'GET' && url.pathname === '/v1/endpoints') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const endpoint of runtime.endpoints.list()) res.write(JSON.stringify({ type: 'ADDED', endpoint }) + '\n');
      res.write(JSON.stringify({ type: 'SYNCED' }) + '\n');
      if (url.searchParams.get('watch') !== '1') return void res.end();
      const unsubscribe = runtime.endpoints.subscribe((event) => res.write(JSON.stringify(event) + '\n'));
      req.socket.once('close', unsubscribe);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/v1/scale') {
      const { role, replicas } = await body(req);
      if (role === 'probe') throw new MailfleetError('ROLE_NOT_SCALABLE', 'probe runs as one instance while spec.probe.enabled is true');
      if (role === 'policy') throw new MailfleetError('ROLE_NOT_SCALABLE', 'policy runs as one instance here while spec.policy runs it');
      const unknown = roleRefusal(role, ROLES);
      if (unknown !== undefined) throw new MailfleetError('ROLE_UNKNOWN', unknown);
      if (role === 'ldap' || role === 'kvs') throw new MailfleetError('ROLE_NOT_SCALABLE', `${role} runs as a single instance here`);
      if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || replicas > 64) {
        throw new MailfleetError('CONTROL_REQUEST_INVALID', 'replicas must be an integer from 0 to 64');
      }
      await runtime.scale(role as Role, replicas);
      return json(res, 200, statusReport(opts.spec, runtime.pods(), await opts.directorView(), opts.certificates()));
    }
    if (req.method === 'POST' && url.pathname === '/v1/restart') {
      const { role } = await body(req);
      const unknown = roleRefusal(role, INSTANCE_ROLES);
      if (unknown !== undefined) throw new MailfleetError('ROLE_UNKNOWN', unknown);
      return json(res, 200, { restarted: await runtime.restart(role as InstanceRole) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/down') {
      json(res, 202, { stopping: true });
      opts.onDown();
      return;
    }
    json(res, 404, { code: 'CONTROL_REQUEST_INVALID', message: `no route ${req.method} ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const code = isMailfleetError(err) ? err.code : 'INTERNAL';
      log.warn({ err: errorMessage(err), code }, 'control request failed');
      const details = isMailfleetError(err) && err.details.length > 0 ? { details: err.details } : {};
      if (!res.headersSent) json(res, code === 'INTERNAL' ? 500 : 400, { code, message: errorMessage(err), ...details });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => resolve(server));
    // Root only: scale, restart and down act on every instance; status names them all.
    listenOwnerOnly(server, opts.socketPath);
  });
}

/** One request to a running runtime; throws RUNTIME_NOT_RUNNING when nobody answers. */
export function controlRequest(socketPath: string, method: 'GET' | 'POST', path: string, payload?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    // A fresh connection per request: a kept-alive one can be closed by the server just as we reuse it.
    const req = request({ socketPath, method, path, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        } catch (err) {
          reject(new MailfleetError('CONTROL_REQUEST_INVALID', `the runtime's answer on ${socketPath} is not JSON`, { cause: err }));
        }
      });
    });
    req.on('error', (err) => reject(new MailfleetError('RUNTIME_NOT_RUNNING', `no mailfleet runtime answers on ${socketPath}; start one with 'mailfleet up'`, { cause: err })));
    req.end(payload === undefined ? undefined : JSON.stringify(payload));
  });
}
