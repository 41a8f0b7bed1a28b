/**
 * One listing of Postfix's queue from its showq socket (`<queue_directory>/public/showq`, mode 0666 in a
 * directory only root and the postdrop group may enter), with a deadline and a byte bound. Messages are
 * handed to `onMessage` as they are decoded; nothing of the stream is kept.
 */
import { createConnection } from 'node:net';
import { createShowqDecoder, type ShowqMessage } from '../protocol/index.ts';

export interface ShowqReadLimits {
  /** The whole read, connect to last byte. */
  readonly timeoutMs: number;
  /** Most bytes accepted; a longer listing fails the read. */
  readonly maxBytes: number;
}

export function readShowq(path: string, limits: ShowqReadLimits, onMessage: (message: ShowqMessage) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const decoder = createShowqDecoder();
    const socket = createConnection({ path });
    let received = 0;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const timer = setTimeout(() => finish(new Error(`showq ${path}: no complete listing within ${limits.timeoutMs} ms`)), limits.timeoutMs);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limits.maxBytes) return finish(new Error(`showq ${path}: listing longer than ${limits.maxBytes} bytes`));
      try {
        for (const result of decoder.push(chunk)) {
          if (!result.ok) return finish(new Error(`showq ${path}: ${result.error.message}`));
          onMessage(result.value);
        }
      } catch (err) {
        return finish(err instanceof Error ? err : new Error(String(err)));
      }
      if (decoder.done) finish();
    });
    socket.on('end', () => {
      const [failure] = decoder.end();
      finish(failure !== undefined && !failure.ok ? new Error(`showq ${path}: ${failure.error.message}`) : undefined);
    });
    socket.on('error', (err) => finish(new Error(`showq ${path}: ${err.message}`, { cause: err })));
    socket.on('close', () => finish(new Error(`showq ${path}: closed before the end of the listing`)));
  });
}
