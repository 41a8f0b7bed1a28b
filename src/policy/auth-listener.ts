/**
 * The HTTP listener Dovecot's auth processes ask (`auth_policy_server_url`), over TLS when `tls` names the server
 * (auth-tls.ts; the platform always does): `POST /?command=allow|report` with a
 * JSON body and the credential `Authorization: Bearer <key>` (`auth_policy_server_api_header`). Anything else is
 * refused before the body is read: first no or a wrong credential 401 (logged, throttled), then another path or command 404,
 * another method 405; a body past the cap 413, one that is not a Dovecot request 400. Bounded: header size, time
 * for headers and for the whole request (not restarted per byte), open connections.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AUTH_POLICY_MAX_BODY_BYTES, authPolicyCommand, formatAuthPolicyReply, parseAuthPolicyRequest } from '../protocol/index.ts';
import type { AuthJudge } from './auth-judge.ts';
import { INTERNAL_TLS_CHECK_MS, internalTlsDue } from '../internal-tls/index.ts';
import { issueAuthPolicyCertificate } from './auth-tls.ts';
import type { AuthPolicyMetrics, AuthRefusalReason } from './auth-metrics.ts';
import type { LogThrottle } from './log-throttle.ts';
import { refuseClientError } from '../http-refusal.ts';

export interface AuthListenerTuning {
  /** Open connections at most; more are closed at once. Default 1024 (Dovecot opens up to 100 per auth process). */
  maxConnections: number;
  /** Time for a request's headers, and for the whole request, from its first byte. Default 5 s. */
  requestTimeoutMs: number;
  /**
   * An idle kept-alive connection, or one that never sends a request, is closed after this. Default 15 s, past
   * Dovecot's own 10 s, so Dovecot closes first.
   */
  keepAliveMs: number;
  /** Largest request body. Default {@link AUTH_POLICY_MAX_BODY_BYTES}. */
  maxBodyBytes: number;
}

export interface AuthListenerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** The credential every request must carry. */
  readonly apiKey: string;
  readonly judge: AuthJudge;
  readonly metrics: AuthPolicyMetrics;
  readonly throttle: LogThrottle;
  readonly tuning?: Partial<AuthListenerTuning>;
  /**
   * HTTPS with a certificate for these names (what the proxies dial) from the CA derived from the credential,
   * renewed while it runs; absent: plain HTTP.
   */
  readonly tls?: {
    readonly names: readonly string[];
    readonly onRenewalError?: (err: unknown) => void;
    /** How often the certificate's end is looked at (default hourly), and the clock: for tests. */
    readonly checkMs?: number;
    readonly now?: () => number;
  };
}

export interface AuthListener {
  readonly address: { host: string; port: number };
  /** When the served certificate runs out; undefined without TLS. */
  certificateNotAfter(): Date | undefined;
  /** Stops accepting, answers what is in progress, closes every connection. */
  close(): Promise<void>;
}

const TUNING: AuthListenerTuning = { maxConnections: 1024, requestTimeoutMs: 5000, keepAliveMs: 15_000, maxBodyBytes: AUTH_POLICY_MAX_BODY_BYTES };
const MAX_HEADER_BYTES = 8192;
const STATUS: Record<AuthRefusalReason, number> = { unauthorized: 401, malformed: 400, timeout: 408, too_large: 413, not_found: 404, method: 405, draining: 503 };

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export async function startAuthListener(opts: AuthListenerOptions): Promise<AuthListener> {
  const tuning = { ...TUNING, ...opts.tuning };
  const { metrics, throttle } = opts;
  const expected = digest(`Bearer ${opts.apiKey}`);
  let draining = false;

  function authorized(req: IncomingMessage): boolean {
    const given = req.headers.authorization;
    return given !== undefined && timingSafeEqual(digest(given.trim()), expected);
  }

  function refuse(req: IncomingMessage, res: ServerResponse, reason: AuthRefusalReason, detail: string): void {
    metrics.refused(reason);
    if (reason === 'unauthorized') {
      throttle.warn('auth-unauthorized', { client: req.socket.remoteAddress, detail }, 'auth policy request without a valid credential refused');
    } else if (reason !== 'draining') {
      throttle.warn(`auth-${reason}`, { client: req.socket.remoteAddress, reason, detail }, 'auth policy request refused');
    }
    // The body, if any, is not read: the connection ends with the reply.
    res.writeHead(STATUS[reason], { 'content-type': 'text/plain', connection: 'close' }).end(`${detail}\n`);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (draining) return refuse(req, res, 'draining', 'stopping');
    if (!authorized(req)) return refuse(req, res, 'unauthorized', 'a valid credential is required');
    if (req.method !== 'POST') return refuse(req, res, 'method', 'POST only');
    const target = req.url ?? '/';
    const path = target.split('?')[0];
    const command = authPolicyCommand(target);
    if (path !== '/' || command === undefined) return refuse(req, res, 'not_found', 'POST /?command=allow or /?command=report');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > tuning.maxBodyBytes) return refuse(req, res, 'too_large', `body larger than ${tuning.maxBodyBytes} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.byteLength;
      if (size > tuning.maxBodyBytes) {
        over = true;
        chunks.length = 0;
        refuse(req, res, 'too_large', `body larger than ${tuning.maxBodyBytes} bytes`);
        req.socket.destroySoon();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (over) return;
      const result = parseAuthPolicyRequest(command, Buffer.concat(chunks, size));
      if (!result.ok) return refuse(req, res, 'malformed', result.error.message);
      void opts.judge(result.value).then((verdict) => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' }).end(formatAuthPolicyReply(verdict.status, verdict.msg));
      });
    });
  }

  const http: ServerOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: tuning.requestTimeoutMs,
    headersTimeout: tuning.requestTimeoutMs,
    keepAliveTimeout: tuning.keepAliveMs,
    // How often the request and header deadlines are checked (Node's default, 30 s, would let a slow client
    // hold a connection six times the deadline).
    connectionsCheckingInterval: Math.min(1000, tuning.requestTimeoutMs),
    noDelay: true,
  };
  const tls = opts.tls;
  const now = tls?.now ?? Date.now;
  let issued = tls === undefined ? undefined : issueAuthPolicyCertificate(opts.apiKey, tls.names, now());
  const server: Server | TlsServer = issued === undefined
    ? createServer(http, handle)
    // A handshake gets the request's time, not Node's default two minutes.
    : createTlsServer({ ...http, key: issued.pem, cert: issued.pem, minVersion: 'TLSv1.2', handshakeTimeout: tuning.requestTimeoutMs }, handle);
  let renewal: NodeJS.Timeout | undefined;
  if (tls !== undefined && 'setSecureContext' in server) {
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      metrics.refused('malformed');
      throttle.warn('auth-tls', { client: socket.remoteAddress, detail: err.code ?? err.message }, 'auth policy TLS handshake failed');
      socket.destroy();
    });
    renewal = setInterval(() => {
      if (issued === undefined || !internalTlsDue(issued.notAfter, now())) return;
      try {
        issued = issueAuthPolicyCertificate(opts.apiKey, tls.names, now());
        server.setSecureContext({ key: issued.pem, cert: issued.pem, minVersion: 'TLSv1.2' });
      } catch (err) {
        tls.onRenewalError?.(err);
      }
    }, tls.checkMs ?? INTERNAL_TLS_CHECK_MS);
    renewal.unref();
  }
  server.maxConnections = tuning.maxConnections;
  // A connection that sends nothing at all (no request started, so no request deadline) is closed once it has been
  // silent as long as an idle kept-alive one may be.
  server.setTimeout(tuning.keepAliveMs);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    metrics.refused(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'malformed');
    refuseClientError(err, socket);
  });
  server.listen(opts.listen.port, opts.listen.host);
  await once(server, 'listening');
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    certificateNotAfter: () => issued?.notAfter,
    async close() {
      draining = true;
      clearInterval(renewal);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      force.unref();
      await closed;
      clearTimeout(force);
    },
  };
}
