import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MailfleetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { refuseClientError } from '../http-refusal.ts';

/** The only path answered: RFC 8555 §8.3, a token of base64url characters. */
const CHALLENGE_PATH = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/;
/** A validation request is one short GET: headers are small, nothing takes long. */
const MAX_HEADER_BYTES = 4096;
const HEADERS_TIMEOUT_MS = 5000;
const REQUEST_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 5000;
const MAX_CONNECTIONS = 64;
const MAX_REQUESTS_PER_CONNECTION = 10;
/** Challenges of one order at most (one per host of a certificate, and the spec allows 100). */
const MAX_TOKENS = 100;

export interface Http01Responder {
  /** Where it listens (the port is known here when the spec said 0). */
  address: AddressInfo;
  /** Answers `/.well-known/acme-challenge/<token>` with `keyAuthorization` until `remove`. */
  add(token: string, keyAuthorization: string): void;
  remove(token: string): void;
  close(): Promise<void>;
}

/** `host:port` or `[v6]:port` of spec.tls.acme.http01Listen. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new MailfleetError('SPEC_INVALID', `spec.tls.acme.http01Listen: expected host:port, got ${JSON.stringify(listen)}`);
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * The HTTP-01 answer of ACME orders: a small HTTP server that serves key authorizations and nothing else, with
 * bounded headers, time and connections (it faces the internet on port 80).
 */
export async function startHttp01Responder(listen: string, log: Logger): Promise<Http01Responder> {
  const { host, port } = parseListen(listen);
  const tokens = new Map<string, string>();

  function answer(req: IncomingMessage, res: ServerResponse): void {
    // Request bodies are never read: a request that has one ends its connection.
    const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
    if (hasBody) res.shouldKeepAlive = false;
    const reply = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return reply(405, 'method not allowed\n');
    }
    const token = CHALLENGE_PATH.exec(req.url ?? '')?.[1];
    const keyAuthorization = token === undefined ? undefined : tokens.get(token);
    if (keyAuthorization === undefined) return reply(404, 'not found\n');
    log.debug({ token, remote: req.socket.remoteAddress }, 'answered an HTTP-01 challenge');
    reply(200, keyAuthorization);
  }

  const server: Server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: IDLE_TIMEOUT_MS,
    // The deadlines are checked this often (Node's default, 30 s, would let a trickling peer stay six times as long).
    connectionsCheckingInterval: 1000,
  }, answer);
  server.maxConnections = MAX_CONNECTIONS;
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_CONNECTION;
  server.setTimeout(IDLE_TIMEOUT_MS, (socket) => socket.destroy());
  server.on('clientError', refuseClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new MailfleetError('TLS_ISSUE_FAILED', `spec.tls.acme.http01Listen: cannot listen on ${listen} (${(err as NodeJS.ErrnoException).code ?? err.message})`, { cause: err })));
    server.listen({ host, port, exclusive: true }, resolve);
  });
  return {
    address: server.address() as AddressInfo,
    add(token, keyAuthorization) {
      if (tokens.size >= MAX_TOKENS && !tokens.has(token)) throw new MailfleetError('TLS_ISSUE_FAILED', `more than ${MAX_TOKENS} HTTP-01 challenges at once`);
      tokens.set(token, keyAuthorization);
    },
    remove: (token) => void tokens.delete(token),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
