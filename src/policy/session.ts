/**
 * One policy client connection (a Postfix smtpd process keeps one open and sends request after request). Requests
 * are judged as they arrive, pipelined or not, and answered in order. On a request that breaks the protocol the
 * session sends no reply and hangs up, as the protocol requires.
 *
 * Bounds: at most `maxPending` requests judged at once, and as many taken up per turn of the event loop (a client
 * that pipelines thousands waits for the next turn, after every other connection's, instead of holding up the
 * server while they are answered on the spot); replies the client has not read, and bytes it sent that are
 * not decoded yet, at most `MAX_OUTPUT_BYTES` and `MAX_INPUT_BYTES` before reading from it pauses. What it holds
 * (`held`) is reported to the server as it changes, which keeps the sum over all connections within a budget.
 * Deadlines (see `tick`) are checked by the server's sweep and never restart on every byte.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { createPolicyDecoder, formatPolicyReply, type PolicyDecoderOptions, type PolicyRequest } from '../protocol/index.ts';

export interface SessionLimits {
  /**
   * Requests judged at once per connection; more are read only once earlier ones are answered. Also the requests
   * taken up per turn of the event loop.
   */
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
  /** What the connection holds (`Session.held`) changed by `delta` bytes; the last call brings it back to 0. */
  holding(delta: number): void;
  readonly log: Logger;
}

export interface Session {
  /** Enforces the deadlines; the server calls it for every session about once a second. */
  tick(now: number): void;
  /** Since when the connection has been idle (no request in progress, none arriving); undefined while it is not. */
  idleSince(): number | undefined;
  /**
   * Bytes held for the client: received and not decoded yet (in the socket's read buffer and the decoder, which
   * keeps what it decoded since its last read with them) and replies it has not read (queued in the socket or
   * waiting to be written). 0 once the connection is gone.
   */
  held(): number;
  /** Reads no more requests, answers those in progress, then closes. */
  close(): void;
  destroy(): void;
  readonly closed: Promise<void>;
}

/** Replies the client has not read, held before reading from it pauses (a reply is about 20 bytes: hundreds of them). */
const MAX_OUTPUT_BYTES = 16 * 1024;
/** Bytes received and not decoded yet, held before reading from it pauses. */
const MAX_INPUT_BYTES = 64 * 1024;
/**
 * The most one read from a socket brings (Node reads into 64 KiB). A paused socket still makes one more read, into
 * its own buffer, and nothing tells of it: `held` counts it before it comes.
 */
const READ_BYTES = 64 * 1024;
/**
 * Bytes of requests taken up per turn of the event loop, at least one request (with `maxPending` requests, the
 * turn's bound). Twice the largest request a Postfix smtpd sends, so its request is always taken at once; a client
 * that pipelines large requests gets through 4 KiB a turn, so that 2,000 of them cost a turn 8 MB of decoding and
 * not 128 MB (a whole read each), and what it sent and is waiting counts against the server's budget meanwhile.
 */
const TURN_BYTES = 4 * 1024;

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
  /** Requests and their bytes taken up since the decoder last ran dry (see `TURN_BYTES`). */
  let taken = 0;
  let takenBytes = 0;
  let turnAwaited = false;
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
  /**
   * Replies ready, in order, while a write is still under way: they go out together in one write when it is done,
   * so a client that does not read costs one buffer, not a queued write (and its bookkeeping) per 20-byte reply.
   */
  let outbox: Buffer[] = [];
  let outboxBytes = 0;
  let writing = false;
  /** What was last reported through `deps.holding`. */
  let reported = 0;

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('close', () => release());
  socket.setNoDelay(true);
  socket.on('error', (err) => log.debug({ err: err.message }, 'policy client connection error'));

  function held(): number {
    if (gone) return 0;
    const received = socket.isPaused() && !closing ? Math.max(socket.readableLength, READ_BYTES) : socket.readableLength;
    return received + decoder.retained() + socket.writableLength + outboxBytes;
  }

  function report(): void {
    const now = held();
    if (now === reported) return;
    deps.holding(now - reported);
    reported = now;
  }

  /**
   * The connection is over: everything held for it is let go now. The socket itself is let go only when its handle
   * has closed, at the end of this turn of the event loop, and a flood closes hundreds of connections in one turn:
   * what it read and nobody took would stay alive until then.
   */
  function release(): void {
    gone = true;
    decoder.discard();
    pending.length = 0;
    outbox = [];
    outboxBytes = 0;
    if (!socket.destroyed) {
      while (socket.read() !== null);
      socket.destroy();
    }
    report();
  }

  function hangUp(code: string, detail: Record<string, unknown>): void {
    if (gone) return;
    deps.protocolError(code, detail);
    release();
  }

  const outputFull = (): boolean => socket.writableLength + outboxBytes > MAX_OUTPUT_BYTES;

  function flowControl(): void {
    if (gone) return;
    const full = outputFull();
    const stop = closing || full || turnAwaited || pending.length >= limits.maxPending || decoder.buffered() > MAX_INPUT_BYTES;
    if (full) blockedSince ??= Date.now();
    else blockedSince = undefined;
    if (stop && !socket.isPaused()) socket.pause();
    else if (!stop && socket.isPaused()) socket.resume();
    report();
  }

  /** A write is done (or failed: the socket is gone then): what came meanwhile goes out, and reading may go on. */
  function written(): void {
    writing = false;
    if (!gone && (outbox.length > 0 || socket.isPaused())) pump();
  }

  /** Moves the replies that are next in order to the outbox and writes it unless a write is under way; ends when closing and all are out. */
  function flush(): void {
    while (pending.length > 0 && (pending[0] as Slot).reply !== undefined) {
      const reply = (pending.shift() as Slot).reply as Buffer;
      outbox.push(reply);
      outboxBytes += reply.length;
    }
    if (gone) return;
    if (!writing && outbox.length > 0 && socket.writable) {
      const bytes = outbox.length === 1 ? (outbox[0] as Buffer) : Buffer.concat(outbox, outboxBytes);
      outbox = [];
      outboxBytes = 0;
      writing = true;
      socket.write(bytes, written);
    }
    if (closing && pending.length === 0 && outbox.length === 0 && !socket.writableEnded) socket.end();
  }

  function nextTurn(): void {
    turnAwaited = false;
    taken = 0;
    takenBytes = 0;
    pump();
  }

  function pump(): void {
    if (pumping) return;
    pumping = true;
    try {
      while (!gone && !closing && !turnAwaited && !outputFull()) {
        if (pending.length >= limits.maxPending) {
          // Answers given at once (no rule applied) leave room as soon as they are written.
          flush();
          if (pending.length >= limits.maxPending) break;
        }
        if (taken >= limits.maxPending || takenBytes >= TURN_BYTES) {
          turnAwaited = true;
          setImmediate(nextTurn);
          break;
        }
        const item = decoder.next();
        if (item === undefined) {
          // All it sent is taken up: what it sends next (having read its replies, as Postfix does) starts afresh.
          taken = 0;
          takenBytes = 0;
          break;
        }
        if (!item.ok) return hangUp(item.error.code, { reason: item.error.message, input: item.error.input });
        taken++;
        takenBytes += item.value.bytes;
        requestSince = undefined;
        const slot: Slot = { reply: undefined };
        pending.push(slot);
        deps.judge(item.value, (action) => {
          if (slot.reply !== undefined) return;
          slot.reply = encodedReply(action);
          activeAt = Date.now();
          // pump writes the replies now in order (those ready together in one write) and reads on.
          if (!pumping) pump();
        });
      }
      flush();
    } finally {
      pumping = false;
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
  socket.on('end', () => {
    const cut = decoder.end();
    if (cut) log.debug({ code: cut.code }, 'policy client left in the middle of a request');
  });

  return {
    tick(now) {
      if (gone) return;
      // A paused socket may still have taken in a read that no event told of.
      report();
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
    held,
    close() {
      if (closing) return;
      closing = true;
      flowControl();
      flush();
    },
    destroy: release,
    closed,
  };
}
