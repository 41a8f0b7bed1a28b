/**
 * One policy client connection (a Postfix smtpd process keeps one open and sends request after request). Requests
 * are judged as they arrive, pipelined or not, and answered in order. On a request that breaks the protocol the
 * session sends no reply and hangs up, as the protocol requires.
 *
 * Bounds: at most `maxPending` requests judged at once; replies the client has not read, and bytes it sent that are
 * not decoded yet, at most `MAX_OUTPUT_BYTES` and `MAX_INPUT_BYTES` before reading from it pauses. Deadlines (see
 * `tick`) are checked by the server's sweep and never restart on every byte.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { createPolicyDecoder, formatPolicyReply, type PolicyDecoderOptions, type PolicyRequest } from '../protocol/index.ts';

export interface SessionLimits {
  /** Requests judged at once per connection; more are read only once earlier ones are answered. */
  readonly maxPending: number;
  /** From a request's first byte, the time the client has to send all of it. */
  readonly requestTimeoutMs: number;
  /** With no request in progress, the time after which the connection is closed. */
  readonly idleTimeoutMs: number;
  readonly decoder: PolicyDecoderOptions;
}

export interface SessionDeps {
  readonly limits: SessionLimits;
  /** Judges one request; calls `answer` once, now or later, with the reply's action. */
  judge(request: PolicyRequest, answer: (action: string) => void): void;
  /** The client broke the protocol (`code` is a protocol error code, or `PROTOCOL_TIMEOUT`); it is hung up on. */
  protocolError(code: string, detail: Record<string, unknown>): void;
  readonly log: Logger;
}

export interface Session {
  /** Enforces the deadlines; the server calls it for every session about once a second. */
  tick(now: number): void;
  /** Since when the connection has been idle (no request in progress, none arriving); undefined while it is not. */
  idleSince(): number | undefined;
  /** Reads no more requests, answers those in progress, then closes. */
  close(): void;
  destroy(): void;
  readonly closed: Promise<void>;
}

/** Replies the client has not read, held before reading from it pauses (a reply is about 20 bytes: hundreds of them). */
const MAX_OUTPUT_BYTES = 16 * 1024;
/** Bytes received and not decoded yet, held before reading from it pauses. */
const MAX_INPUT_BYTES = 64 * 1024;

interface Slot {
  reply: Buffer | undefined;
}

/** Replies encoded once per action: a server gives a handful of different ones (the rules' and DUNNO). */
const encoded = new Map<string, Buffer>();
const MAX_ENCODED = 256;

function encodedReply(action: string): Buffer {
  let bytes = encoded.get(action);
  if (bytes === undefined) {
    bytes = Buffer.from(formatPolicyReply(action), 'latin1');
    if (encoded.size < MAX_ENCODED) encoded.set(action, bytes);
  }
  return bytes;
}

export function startSession(socket: Socket, deps: SessionDeps): Session {
  const { limits, log } = deps;
  const decoder = createPolicyDecoder(limits.decoder);
  const pending: Slot[] = [];
  let pumping = false;
  let closing = false;
  let gone = false;
  /** When the request being received began to arrive, while one is. */
  let requestSince: number | undefined;
  /** When the last bytes came. */
  let dataAt = Date.now();
  /** When the client last had a request answered (or connected). */
  let activeAt = Date.now();
  /** Since when reading has paused because the client does not read its replies. */
  let blockedSince: number | undefined;

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('close', () => {
    gone = true;
  });
  socket.setNoDelay(true);
  socket.on('error', (err) => log.debug({ err: err.message }, 'policy client connection error'));

  function hangUp(code: string, detail: Record<string, unknown>): void {
    if (gone) return;
    gone = true;
    deps.protocolError(code, detail);
    socket.destroy();
  }

  function flowControl(): void {
    if (gone) return;
    const outputFull = socket.writableLength > MAX_OUTPUT_BYTES;
    const stop = closing || outputFull || pending.length >= limits.maxPending || decoder.buffered() > MAX_INPUT_BYTES;
    if (outputFull) blockedSince ??= Date.now();
    else blockedSince = undefined;
    if (stop && !socket.isPaused()) socket.pause();
    else if (!stop && socket.isPaused()) socket.resume();
  }

  /** Writes the replies that are next in order; closes once the last is out when closing. */
  function flush(): void {
    while (pending.length > 0 && (pending[0] as Slot).reply !== undefined) {
      const reply = (pending.shift() as Slot).reply as Buffer;
      // Replies ready together go out in one write: pump corks the socket around them.
      if (!gone && socket.writable) socket.write(reply);
    }
    if (closing && pending.length === 0 && !gone) socket.end();
  }

  function pump(): void {
    if (pumping) return;
    pumping = true;
    socket.cork();
    try {
      while (!gone && !closing && socket.writableLength <= MAX_OUTPUT_BYTES) {
        if (pending.length >= limits.maxPending) {
          // Answers given at once (no rule applied) leave room as soon as they are written.
          flush();
          if (pending.length >= limits.maxPending) break;
        }
        const item = decoder.next();
        if (item === undefined) break;
        if (!item.ok) return hangUp(item.error.code, { reason: item.error.message, input: item.error.input });
        requestSince = undefined;
        const slot: Slot = { reply: undefined };
        pending.push(slot);
        deps.judge(item.value, (action) => {
          if (slot.reply !== undefined) return;
          slot.reply = encodedReply(action);
          activeAt = Date.now();
          // pump writes the replies now in order (corked: several in one write) and reads on.
          if (!pumping) pump();
        });
      }
      flush();
    } finally {
      pumping = false;
      if (!gone) socket.uncork();
    }
    // The next request's clock starts with the bytes of it that came last, not with the connection's.
    requestSince = decoder.inRequest() ? (requestSince ?? dataAt) : undefined;
    flowControl();
  }

  socket.on('data', (chunk: Buffer) => {
    if (gone || closing) return;
    dataAt = Date.now();
    if (!decoder.inRequest()) requestSince = dataAt;
    decoder.push(chunk);
    pump();
  });
  socket.on('drain', () => {
    flowControl();
    pump();
  });
  socket.on('end', () => {
    const cut = decoder.end();
    if (cut) log.debug({ code: cut.code }, 'policy client left in the middle of a request');
  });

  return {
    tick(now) {
      if (gone) return;
      if (blockedSince !== undefined) {
        if (now - blockedSince > limits.requestTimeoutMs) hangUp('PROTOCOL_TIMEOUT', { reason: 'the client does not read its replies' });
        return;
      }
      if (pending.length > 0) return;
      if (requestSince !== undefined && now - requestSince > limits.requestTimeoutMs) {
        return hangUp('PROTOCOL_TIMEOUT', { reason: 'a request took too long to arrive' });
      }
      if (requestSince === undefined && now - activeAt > limits.idleTimeoutMs) {
        log.debug('policy client idle, closing');
        closing = true;
        flowControl();
        flush();
      }
    },
    idleSince() {
      return gone || closing || pending.length > 0 || requestSince !== undefined || decoder.inRequest() ? undefined : activeAt;
    },
    close() {
      if (closing) return;
      closing = true;
      flowControl();
      flush();
    },
    destroy() {
      gone = true;
      socket.destroy();
    },
    closed,
  };
}
