/** A raw LMTP client for tests: what it sends is exactly what the test says, pipelined or not. */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';

const REPLY_TIMEOUT_MS = 15_000;

export interface LmtpClient {
  readonly socket: Socket;
  /** Writes `text` as is and returns the next `replies` complete replies, each as its last line. */
  send(text: string | Buffer, replies: number): Promise<string[]>;
  /** The next `replies` complete replies, waiting up to `timeoutMs`. */
  take(replies: number, timeoutMs?: number): Promise<string[]>;
  /** Resolves once the server has closed the connection (or it failed). */
  readonly closed: Promise<void>;
  close(): void;
}

/** Connects and reads the greeting; with `greeting: false` returns right after connecting. */
export async function openLmtp(host: string, port: number, opts: { greeting?: boolean } = {}): Promise<LmtpClient> {
  const socket: Socket = connect({ host, port });
  const replies: string[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    let lf: number;
    while ((lf = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, lf).replace(/\r$/, '');
      buffered = buffered.slice(lf + 1);
      if (!/^\d{3}-/.test(line)) replies.push(line);
    }
    wake?.();
  });
  const closed = new Promise<void>((resolve) => {
    socket.on('error', (err) => {
      failure = err;
      wake?.();
      resolve();
    });
    socket.on('close', () => {
      failure ??= new Error('connection closed');
      wake?.();
      resolve();
    });
  });
  async function take(n: number, timeoutMs = REPLY_TIMEOUT_MS): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (replies.length < n) {
      if (failure) throw new Error(`${failure.message}; replies so far: ${JSON.stringify(replies)}`);
      if (Date.now() > deadline) throw new Error(`no ${n} replies within ${timeoutMs} ms; got ${JSON.stringify(replies)}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
    return replies.splice(0, n);
  }
  if (opts.greeting !== false) {
    const [greeting] = await take(1);
    assert.match(greeting ?? '', /^220 /);
  }
  return {
    socket,
    send(text, n) {
      socket.write(text);
      return take(n);
    },
    take,
    closed,
    close: () => socket.destroy(),
  };
}

export const codes = (replies: string[]): string[] => replies.map((r) => r.slice(0, 3));

/**
 * A message of lines that each start with a dot, whose size as Postfix's smtpd counts it (each line unstuffed,
 * plus CRLF) is exactly `countedBytes` (at least 3). Returns what the backend should store and the bytes an
 * LMTP client sends after DATA: dot-stuffed, terminator included.
 */
export function dottedMessage(countedBytes: number, lineLength = 78): { message: Buffer; wire: Buffer } {
  let lines = Math.floor(countedBytes / lineLength);
  let rest = countedBytes - lines * lineLength;
  // The last line takes the remainder; it needs room for its dot and CRLF.
  if (rest > 0 && rest < 3) {
    lines -= 1;
    rest += lineLength;
  }
  const line = `.${'x'.repeat(lineLength - 3)}\r\n`;
  const last = rest > 0 ? `.${'y'.repeat(rest - 3)}\r\n` : '';
  const message = Buffer.from(line.repeat(lines) + last, 'latin1');
  const wire = Buffer.from(`.${line}`.repeat(lines) + (last ? `.${last}` : '') + '.\r\n', 'latin1');
  return { message, wire };
}
