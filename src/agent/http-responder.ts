/**
 * The agent's HTTP listener: just enough HTTP/1.x for its health endpoints (kubelet probes, Prometheus scrapes)
 * and its control socket (the preStop drain), on node:net. node:http costs every agent about 12 MB it keeps, and PID 1 of every pod pays
 * it once per pod; these endpoints need a request line and one short answer per connection, nothing more.
 *
 * One request per connection: the answer carries `connection: close` and the connection ends after it. The
 * request head is bounded (line length, header count) and must arrive within a deadline that does not restart on
 * every byte; header values and any body are read and dropped, never buffered.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createLineSplitter, parseHttpRequestLine } from '../protocol/index.ts';
import { listenOwnerOnly } from './fs.ts';

export const MAX_LINE_BYTES = 4096;
export const MAX_HEADER_LINES = 100;
/** The whole request head must arrive within this. */
export const HEAD_TIMEOUT_MS = 10_000;
/** After the answer, how long the peer gets to close its side before the connection is dropped. */
const LINGER_MS = 5000;
/** Bytes of a request body read and dropped at most; more ends the connection. */
export const MAX_DISCARDED_BYTES = 64 * 1024;
const MAX_CONNECTIONS = 64;

const REASONS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

export interface HttpRequest {
  method: string;
  path: string;
}

/** Sends the one answer of a connection; later calls do nothing. */
export type Respond = (status: number, body: string, contentType?: string) => void;

export interface HttpResponder {
  server: Server;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

function head(status: number, contentType: string, length: number): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Status'}\r\ncontent-type: ${contentType}\r\ncache-control: no-store\r\n`
    + `content-length: ${length}\r\nconnection: close\r\n\r\n`;
}

function serveConnection(socket: Socket, handle: (req: HttpRequest, respond: Respond) => void, headTimeoutMs: number): void {
  const lines = createLineSplitter({ maxLineBytes: MAX_LINE_BYTES });
  /** Reading the head, then waiting for the handler's answer, then done. */
  let state: 'head' | 'handling' | 'answered' = 'head';
  let request: HttpRequest | undefined;
  let headers = 0;
  let discarded = 0;
  const deadline = setTimeout(() => answer(408, ''), headTimeoutMs);

  function answer(status: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
    if (state === 'answered' || socket.destroyed) return;
    state = 'answered';
    clearTimeout(deadline);
    const payload = request?.method === 'HEAD' ? '' : body;
    socket.end(head(status, contentType, Buffer.byteLength(body)) + payload);
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  function readHead(chunk: Buffer): void {
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
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(socket, opts.handle, opts.headTimeoutMs ?? HEAD_TIMEOUT_MS);
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', opts.onError);
  listen(server, opts);
  return {
    server,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
