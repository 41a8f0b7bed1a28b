import type { Duplex } from 'node:stream';

/** How long a refusal may take to reach a client before its connection is destroyed anyway. */
const FLUSH_MS = 1000;

/** The status line for a request Node's HTTP parser gave up on (`clientError`). */
export function clientErrorStatus(err: NodeJS.ErrnoException): string {
  if (err.code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/**
 * A server's `clientError` handler: answers with the status and closes the connection. Ending alone is not enough:
 * it only half-closes, and a client that keeps sending (a byte at a time past the request deadline) would keep the
 * connection; so the socket is destroyed once the answer is out, or after {@link FLUSH_MS} whatever the client reads.
 */
export function refuseClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), FLUSH_MS);
  timer.unref();
  socket.end(`HTTP/1.1 ${clientErrorStatus(err)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}
