/**
 * One LMTP client session at the router (RFC 2033): commands are answered in order, pipelined or not;
 * each RCPT asks the director for the user's backend; after the body, the recipients of each backend are
 * delivered there in one transaction and every recipient gets its backend's own reply, in RCPT order.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.ts';
import { formatLmtpReply, lmtpReply, parseLmtpCommand, recipientUser, type LmtpReply } from '../protocol/index.ts';
import type { BackendPool } from './backend-pool.ts';
import type { BackendLookup } from './director-lookup.ts';
import { startDelivery, type Delivery, type Recipient } from './delivery.ts';
import { createLmtpStream, type StreamItem } from './stream.ts';
import { drainOrClose } from './socket-drain.ts';

export interface SessionLimits {
  maxLineBytes: number;
  maxMessageBytes: number;
  maxRecipients: number;
  /**
   * From the greeting or the last command answered, the time a client has to send its next whole command. It
   * does not restart on every byte, and time spent waiting for the director or a backend is not counted.
   */
  commandTimeoutMs: number;
  /** From 354, the time a client has to send the whole message. */
  bodyTimeoutMs: number;
  /** A session told to close whose client keeps it open (by not reading its last reply) is cut off this long after. */
  closeGraceMs: number;
  /**
   * Once a message's backend transactions are open (each holds one of its backend's few slots), the client must
   * send at least this many bytes a second on average, counted from `slotGraceMs` after the opening and without
   * the time the backends take: a client that drips its message would otherwise hold the slots until the body
   * deadline, and every other delivery to those backends would wait and fail.
   */
  slotMinBytesPerSecond: number;
  slotGraceMs: number;
}

/** What a session reports as it works, for metrics. */
export interface SessionEvents {
  recipient(result: 'accepted' | 'unknown' | 'lookup_failed'): void;
  delivered(replies: readonly LmtpReply[], bytes: number): void;
}

export interface SessionDeps {
  hostname: string;
  lookup: BackendLookup;
  pool: BackendPool;
  limits: SessionLimits;
  events: SessionEvents;
  log: Logger;
}

export interface Session {
  /** Says 421 (when idle now or once the transaction in progress ends) and closes. */
  shutdown(text: string): void;
  /** Says 421 now, in a transaction or not (a message not complete is given up), and closes. */
  terminate(text: string): void;
  /**
   * Since when the session has waited for its client's next command (between transactions or in an envelope);
   * undefined while it takes a message, waits for the director or a backend, or is closing.
   */
  idleSince(): number | undefined;
  /** Gone, said or not. */
  destroy(): void;
  /** Enforces the session's deadlines; the router calls it for every session, about once a second. */
  tick(now: number): void;
  readonly closed: Promise<void>;
}

/** Unprocessed client bytes held before reading from the client pauses. */
const MAX_PENDING_BYTES = 64 * 1024;
/** Replies the client has not read yet, held before the session stops taking its commands. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * Message bytes gathered before they go to the backends: a message up to this size goes in one write with its
 * envelope, a longer one in chunks of about this size instead of one (and one reply to wait for) per read.
 */
const CHUNK_BYTES = 32 * 1024;

/** The message being received and where it goes (once its first chunk is gathered). */
interface InFlight {
  delivery?: Delivery;
  /** Parts read and not yet sent, `heldBytes` in all. */
  held: Buffer[];
  heldBytes: number;
  from: { address: string; params: readonly string[] };
  rcpts: readonly Recipient[];
  tooBig: boolean;
  started: number;
  /** Client bytes received since DATA, and how many of them had come when the backend transactions opened. */
  received: number;
  receivedAtOpen: number;
  /** When the backend transactions opened, and the time since spent waiting for the backends. */
  openedAt?: number;
  backendMs: number;
}

/** Whether a message whose backend transactions are open has come in slower than the floor allows (SessionLimits). */
function tooSlow(m: InFlight, now: number, limits: SessionLimits): boolean {
  const clientMs = now - (m.openedAt ?? now) - m.backendMs - limits.slotGraceMs;
  return clientMs > 0 && m.received - m.receivedAtOpen < (clientMs / 1000) * limits.slotMinBytesPerSecond;
}

export function startSession(socket: Socket, deps: SessionDeps): Session {
  const { limits, log } = deps;
  const stream = createLmtpStream({ maxLineBytes: limits.maxLineBytes, maxBodyBytes: limits.maxMessageBytes });
  let greeted = false;
  let sender: { address: string; params: readonly string[] } | undefined;
  let recipients: Recipient[] = [];
  let readingBody = false;
  let message: InFlight | undefined;
  let pumping = false;
  let ending = false;
  let shutdownText: string | undefined;
  /** When the client's time for its next command or its message runs out. */
  let deadline = Date.now() + limits.commandTimeoutMs;
  /** Since when the client's next command is awaited. */
  let waitingSince = Date.now();
  /** Waiting for the director or a backend: the client's deadline waits too, and moves by as much. */
  let working = false;
  /** When the session said its last reply; the socket is destroyed a grace period after. */
  let closingAt: number | undefined;

  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // A client gone in the middle of its message: the backends never get its end, so none stores it.
  socket.once('close', () => message?.delivery?.abort());
  socket.setNoDelay(true);
  socket.on('error', (err) => log.debug({ err: err.message }, 'client connection error'));

  /** Runs `task` (a lookup, a backend's turn) on the session's time, not the client's. */
  async function work<T>(task: Promise<T>): Promise<T> {
    const started = Date.now();
    working = true;
    try {
      return await task;
    } finally {
      working = false;
      deadline += Date.now() - started;
      if (message?.openedAt !== undefined) message.backendMs += Date.now() - started;
    }
  }

  const send = (reply: LmtpReply): void => {
    if (!ending) socket.write(formatLmtpReply(reply));
  };

  function hangUp(last: string): void {
    if (ending) return;
    ending = true;
    closingAt = Date.now();
    // A message not yet complete is given up: no backend gets its end, so none stores it.
    message?.delivery?.abort();
    socket.end(last);
  }


  function reset(): void {
    sender = undefined;
    recipients = [];
  }

  function hello(name: string): void {
    reset();
    greeted = true;
    log.debug({ client: name }, 'client said hello');
    socket.write(`250-${deps.hostname}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n`);
  }

  async function recipient(address: string): Promise<void> {
    if (!sender) return send(lmtpReply(503, '5.5.1', 'MAIL needed first'));
    if (recipients.length >= limits.maxRecipients) return send(lmtpReply(452, '4.5.3', 'Too many recipients'));
    const found = await work(deps.lookup.lookup(recipientUser(address)));
    if (found.kind === 'backend') {
      deps.events.recipient('accepted');
      recipients.push({ address, backend: found.host });
      return send(lmtpReply(250, '2.1.5', 'OK'));
    }
    if (found.kind === 'unknown') {
      deps.events.recipient('unknown');
      return send(lmtpReply(550, '5.1.1', `<${address}> User doesn't exist`));
    }
    deps.events.recipient('lookup_failed');
    log.warn({ rcpt: address, reason: found.reason }, 'backend lookup failed');
    return send(lmtpReply(451, '4.3.0', `<${address}> Temporary internal error`));
  }

  /** DATA: 354 at once; each backend's transaction opens with the message's first part, and the rest streams through as it comes. */
  function begin(): void {
    readingBody = true;
    message = { from: sender as InFlight['from'], rcpts: recipients, held: [], heldBytes: 0, tooBig: false, started: Date.now(), received: 0, receivedAtOpen: 0, backendMs: 0 };
    deadline = Date.now() + limits.bodyTimeoutMs;
    socket.write('354 OK, end data with <CR><LF>.<CR><LF>\r\n');
  }

  /** The parts held, as one buffer; none held after. */
  function takeHeld(m: InFlight): Buffer {
    const chunk = m.held.length === 1 ? (m.held[0] as Buffer) : Buffer.concat(m.held);
    m.held = [];
    m.heldBytes = 0;
    return chunk;
  }

  /** A transaction at each recipient's backend, opened with `first` (`last`: the whole message). */
  async function open(m: InFlight, first: Buffer, last: boolean): Promise<Delivery> {
    const opened = await work(startDelivery(deps.pool, m.from, m.rcpts, { data: first, last }));
    m.delivery = opened;
    m.openedAt = Date.now();
    m.receivedAtOpen = m.received;
    // A client gone or cut off while the backends were asked: the rest of the message will not come.
    if (!last && (ending || socket.destroyed)) opened.abort();
    return opened;
  }

  async function body(item: StreamItem): Promise<void> {
    const m = message as InFlight;
    if (item.kind === 'body-part') {
      if (m.tooBig) return;
      m.held.push(item.data);
      m.heldBytes += item.data.length;
      if (m.heldBytes < CHUNK_BYTES) return;
      const chunk = takeHeld(m);
      if (!m.delivery) {
        await open(m, chunk, false);
        return;
      }
      // The slowest backend sets the pace: no more is read from the client until every one can take more.
      return work(m.delivery.write(chunk));
    }
    if (item.kind === 'body-too-big') {
      m.tooBig = true;
      takeHeld(m);
      return m.delivery?.abort();
    }
    if (item.kind !== 'body-end') return;
    readingBody = false;
    message = undefined;
    reset();
    if (m.tooBig) {
      for (const r of m.rcpts) send(lmtpReply(552, '5.3.4', `<${r.address}> Message too big for system`));
      return;
    }
    m.held.push(item.data);
    let last = takeHeld(m);
    let delivery = m.delivery;
    if (!delivery) {
      // A message up to CHUNK_BYTES goes whole with the envelope, and finish() only reads the replies.
      delivery = await open(m, last, true);
      last = Buffer.alloc(0);
    }
    const replies = await work(delivery.finish(last));
    for (const r of replies) send(r);
    deps.events.delivered(replies, item.bytes);
    // Each delivery is logged by the backend that saved it; here only a refused or deferred one is news.
    const failed = replies.some((r) => r.code >= 300);
    if (!failed && !log.isLevelEnabled('debug')) return;
    log[failed ? 'warn' : 'debug']({
      from: m.from.address,
      size: item.bytes,
      ms: Date.now() - m.started,
      rcpts: m.rcpts.map((r, i) => ({ to: r.address, backend: r.backend, reply: `${replies[i]?.code} ${replies[i]?.enhanced} ${replies[i]?.text}` })),
    }, failed ? 'lmtp delivery not done' : 'lmtp delivered');
  }

  async function handle(item: StreamItem): Promise<void> {
    if (readingBody) return body(item);
    if (item.kind === 'line-too-long') return send(lmtpReply(500, '5.5.2', 'Line too long'));
    if (item.kind !== 'line') return;
    const parsed = parseLmtpCommand(item.line);
    if (!parsed.ok) return send(parsed.reply);
    const cmd = parsed.command;
    switch (cmd.verb) {
      case 'LHLO':
        return hello(cmd.name);
      case 'HELO':
      case 'EHLO':
        return send(lmtpReply(500, '5.5.1', 'This is LMTP: use LHLO'));
      case 'MAIL':
        if (!greeted) return send(lmtpReply(503, '5.5.1', 'LHLO needed first'));
        if (sender) return send(lmtpReply(503, '5.5.1', 'MAIL already given'));
        sender = { address: cmd.sender, params: cmd.params };
        return send(lmtpReply(250, '2.1.0', 'OK'));
      case 'RCPT':
        return recipient(cmd.recipient);
      case 'DATA':
        if (!sender) return send(lmtpReply(503, '5.5.1', 'MAIL needed first'));
        if (recipients.length === 0) return send(lmtpReply(554, '5.5.1', 'No valid recipients'));
        begin();
        return;
      case 'RSET':
        reset();
        return send(lmtpReply(250, '2.0.0', 'OK'));
      case 'NOOP':
        return send(lmtpReply(250, '2.0.0', 'OK'));
      case 'VRFY':
        return send(lmtpReply(252, '2.3.3', 'Try RCPT instead'));
      case 'QUIT':
        return hangUp('221 2.0.0 Bye\r\n');
    }
  }

  /**
   * Takes items in order until none is complete; replies go out together once the input is used up. A client
   * that does not read its replies gets no more of its commands taken (and so no more of its bytes read).
   */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    socket.cork();
    try {
      while (!ending) {
        if (socket.writableLength > MAX_OUTPUT_BYTES) {
          socket.uncork();
          if (socket.writableLength > MAX_OUTPUT_BYTES) await drainOrClose(socket);
          socket.cork();
          continue;
        }
        const item = readingBody ? stream.nextBody() : stream.nextLine();
        if (!item) break;
        await handle(item);
        if (!readingBody) {
          deadline = Date.now() + limits.commandTimeoutMs;
          waitingSince = Date.now();
        }
        if (shutdownText !== undefined && !readingBody && sender === undefined) hangUp(`421 4.3.2 ${shutdownText}\r\n`);
      }
    } catch (err) {
      log.error({ err: (err as Error).message }, 'session failed');
      hangUp('421 4.3.0 Internal error, closing\r\n');
    } finally {
      socket.uncork();
      pumping = false;
      if (socket.isPaused() && !ending && stream.buffered() < MAX_PENDING_BYTES) socket.resume();
    }
  }

  socket.on('data', (chunk: Buffer) => {
    if (ending) return;
    if (message) message.received += chunk.length;
    stream.push(chunk);
    if (stream.buffered() > MAX_PENDING_BYTES) socket.pause();
    void pump();
  });

  socket.write(`220 ${deps.hostname} mailfleet LMTP ready\r\n`);

  return {
    shutdown(text) {
      shutdownText = text;
      if (!pumping && sender === undefined && !readingBody) hangUp(`421 4.3.2 ${text}\r\n`);
    },
    terminate(text) {
      hangUp(`421 4.3.2 ${text}\r\n`);
    },
    idleSince() {
      return readingBody || working || ending ? undefined : waitingSince;
    },
    destroy() {
      socket.destroy();
    },
    tick(now) {
      if (closingAt !== undefined) {
        if (now - closingAt > limits.closeGraceMs) socket.destroy();
      } else if (!working && now > deadline) {
        hangUp(`421 4.4.2 ${deps.hostname} Timeout waiting for ${readingBody ? 'the message' : 'a command'}, closing\r\n`);
      } else if (!working && message?.openedAt !== undefined && tooSlow(message, now, limits)) {
        log.warn({ from: message.from.address, bytes: message.received, ms: now - message.started }, 'client sends its message too slowly for the backend slots it holds; closing');
        hangUp(`421 4.4.2 ${deps.hostname} Message arriving too slowly, closing\r\n`);
      }
    },
    closed,
  };
}
