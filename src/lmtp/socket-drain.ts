import type { Socket } from 'node:net';

/** Resolves at the socket's next `drain` (its peer has read what was queued) or when it closes, whichever comes first. */
export function drainOrClose(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
