/**
 * A line dialog over one TCP connection from a chosen source address, for tests that must pose as a
 * particular peer (a load balancer, an untrusted host) and send bytes before the server speaks (a PROXY
 * protocol header). Replies are read whole: multi-line SMTP replies (`250-…`) up to their last line.
 */
import { connect, type Socket } from 'node:net';

export interface RawDialog {
  /** The server's first reply, or undefined when it closed the connection without saying anything. */
  greeting(): Promise<string | undefined>;
  /** Sends `line` (CRLF appended) and reads one reply; undefined when the server closed instead. */
  command(line: string): Promise<string | undefined>;
  close(): void;
}

const REPLY_TIMEOUT_MS = 15_000;

/** The last line of a reply: SMTP `250 …` (not `250-…`), IMAP `* OK …`/`A1 OK …`, POP3 `+OK …`. */
function replyComplete(text: string): boolean {
  if (text === '') return false;
  const lines = text.split('\r\n');
  if (lines.at(-1) !== '') return false;
  const last = lines.at(-2) ?? '';
  return !/^\d{3}-/.test(last);
}

/** Connects from `localAddress` to `host:port` and sends `preamble` (e.g. a PROXY header) first. */
export async function openRawDialog(opts: { host: string; port: number; localAddress: string; preamble?: string }): Promise<RawDialog> {
  const socket: Socket = connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buffered = '';
  let closed = false;
  let waiter: (() => void) | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    waiter?.();
  });
  const onEnd = () => {
    closed = true;
    waiter?.();
  };
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.on('error', onEnd);
  if (opts.preamble) socket.write(opts.preamble);

  async function reply(): Promise<string | undefined> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    while (!replyComplete(buffered)) {
      if (closed) {
        // Whatever came before the close, if it was a whole reply; nothing means the server said nothing.
        const rest = buffered;
        buffered = '';
        return rest === '' ? undefined : rest;
      }
      if (Date.now() > deadline) throw new Error(`no reply from ${opts.host}:${opts.port} within ${REPLY_TIMEOUT_MS} ms (have ${JSON.stringify(buffered)})`);
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 200).unref();
      });
      waiter = undefined;
    }
    const out = buffered;
    buffered = '';
    return out;
  }

  return {
    greeting: reply,
    async command(line) {
      if (closed) return undefined;
      socket.write(`${line}\r\n`);
      return reply();
    },
    close: () => socket.destroy(),
  };
}

/** A PROXY protocol v1 header: what a load balancer sends first on every connection. */
export function proxyV1(source: string, destination: string, sourcePort: number, destinationPort: number): string {
  return `PROXY TCP4 ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`;
}
