/**
 * The no-op policy responder: answers `action=DUNNO` to every request without reading it, over the same TCP
 * framing the servers speak. What the load generator reaches against it is the ceiling of this host and this
 * generator; the bench prints it in the same run and how much of it each server reaches.
 *
 *   node bench/policy/noop.ts HOST PORT
 *
 * SIGTERM or SIGINT closes it. A request longer than 64 KiB closes its connection (a bound, not a feature).
 */
import { createServer, type Socket } from 'node:net';
import { countRequestEnds, newRequestScan } from './framing.ts';

const REPLY = Buffer.from('action=DUNNO\n\n', 'latin1');

/** `count` replies in one write (one in the closed loop of the bench). */
function replies(count: number): Buffer {
  return count === 1 ? REPLY : Buffer.concat(Array.from({ length: count }, () => REPLY));
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  const scan = newRequestScan();
  socket.on('data', (chunk: Buffer) => {
    const ends = countRequestEnds(chunk, scan);
    if (ends < 0) socket.destroy();
    else if (ends > 0) socket.write(replies(ends));
  });
  socket.on('error', () => socket.destroy());
}

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node bench/policy/noop.ts HOST PORT');
  process.exit(2);
}
const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  serve(socket);
});
server.on('error', (err) => {
  console.error(`noop: ${err.message}`);
  process.exit(1);
});
server.listen({ host, port, backlog: 511 }, () => console.error(`noop: listening on ${host}:${port}`));
const stop = () => {
  server.close();
  for (const s of sockets) s.destroy();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
