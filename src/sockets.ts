import { rmSync } from 'node:fs';
import { isIPv4, type Server, type Socket } from 'node:net';

/** Whether `host` is a loopback address: 127.0.0.0/8 or ::1. */
export function isLoopbackAddress(host: string): boolean {
  return (isIPv4(host) && host.startsWith('127.')) || host === '::1';
}

/**
 * Joins two sockets both ways with backpressure (pipe() pauses a source while its destination's buffer is full) and
 * ends both when either ends or fails; `onDone` runs once. Resumes `a`, which a server may have accepted paused.
 */
export function joinSockets(a: Socket, b: Socket, onDone: () => void): void {
  let done = false;
  const end = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    onDone();
  };
  a.on('error', end).on('close', end);
  b.on('error', end).on('close', end);
  a.pipe(b);
  b.pipe(a);
  a.resume();
}

/** Listens on `host:port` (0: any free port) and resolves with the port taken; rejects on a failure to listen. */
export async function listenOn(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

/** Stops `server` accepting, destroys `open`, and resolves once the server has closed. */
export async function closeServer(server: Server, open: Iterable<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of open) s.destroy();
  await closed;
}

/** Mode of a control socket: connecting needs write permission, which only its owner has. */
export const OWNER_ONLY_SOCKET_MODE = 0o600;

/**
 * Listens on the unix socket `path`, which only its owner (root, or an unprivileged pod's user) may connect to,
 * from the moment it exists: bind(2) runs within listen() and creates the file under the process's umask, which
 * is narrowed around it. A socket left by a killed process is removed first.
 */
export function listenOwnerOnly(server: Server, path: string): void {
  rmSync(path, { force: true });
  const umask = process.umask(0o777 & ~OWNER_ONLY_SOCKET_MODE);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
}
