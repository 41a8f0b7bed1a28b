/**
 * Peers of the LMTP router that a test controls: a director that answers (or sits on) passdb lookups over its
 * `director-userdb` socket, and LMTP backends that store (count) what they get and then answer, stall or die.
 * Every server is stopped, and every accepted socket destroyed, in `t.after`.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

async function serve(t: TestContext, server: Server, listen: (done: () => void) => void): Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  t.after(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    listen(() => resolve());
  });
}

export interface FakeDirector {
  readonly socketPath: string;
  /** Every user looked up, in order. */
  readonly asked: string[];
}

/**
 * `route(user)` names the user's backend, `undefined` for an unknown user, `'stall'` to leave the lookup
 * unanswered, or `'drop'` to close the connection instead of answering.
 */
export async function startFakeDirector(t: TestContext, route: (user: string) => string | undefined): Promise<FakeDirector> {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-fake-director-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const socketPath = join(dir, 'director-userdb');
  const asked: string[] = [];
  const server = createServer((s) => {
    let pending = '';
    s.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let lf: number;
      while ((lf = pending.indexOf('\n')) !== -1) {
        const [verb, id, user = ''] = pending.slice(0, lf).split('\t');
        pending = pending.slice(lf + 1);
        if (verb !== 'PASS') continue;
        asked.push(user);
        const host = route(user);
        if (host === 'stall') continue;
        if (host === 'drop') {
          s.destroy();
          return;
        }
        s.write(host === undefined ? `NOTFOUND\t${id}\n` : `PASS\t${id}\tuser=${user}\tproxy=y\thost=${host}\n`);
      }
    });
  });
  await serve(t, server, (done) => server.listen(socketPath, done));
  return { socketPath, asked };
}

export interface StoredMessage {
  readonly recipients: readonly string[];
  readonly body: Buffer;
  /** Which connection of its backend it came over (1, 2, …). */
  readonly connection: number;
  /** Reads it took, from the one with its MAIL to the one with its last byte. */
  readonly reads: number;
}

/** How a backend answers once it has stored a message. */
export type AfterStore =
  | 'reply'
  /** Sits on the final replies (and any after them) for `stallMs`. */
  | { readonly stallMs: number }
  /** Sends the replies up to `replies` final ones, then drops the connection. */
  | { readonly replies: number; readonly thenClose: true };

export interface BackendBehaviour {
  /**
   * On MAIL: `'stale'` answers 421 and closes, as Dovecot does to a connection it has let idle too long;
   * `'drop'` answers 250 and then drops the connection.
   */
  onMail?(connection: number): 'ok' | 'stale' | 'drop';
  /** On RCPT: a reply line refusing the recipient, or undefined to take it. */
  onRcpt?(recipient: string): string | undefined;
  afterStore?(message: StoredMessage): AfterStore;
}

export interface FakeBackend {
  readonly host: string;
  readonly stored: StoredMessage[];
  /** Connections accepted so far. */
  connections(): number;
  /** Message bytes received in BDAT chunks so far, stored or not. */
  received(): number;
  /** Stops reading from every connection (and new ones) until the returned function is called. */
  hold(): () => void;
  behaviour: BackendBehaviour;
}

/**
 * LMTP backends on `hosts`, all on one port, offering PIPELINING and CHUNKING. Each replies to a batch of
 * pipelined commands in one write after working through it, but like Dovecot (which writes its MAIL and RCPT
 * replies before it opens the mailbox) it sends what it has to say before storing a message first: a stall
 * while storing holds back the final replies only.
 */
export async function startFakeBackends(t: TestContext, hosts: readonly string[]): Promise<{ port: number; backends: FakeBackend[] }> {
  let port = 0;
  const backends: FakeBackend[] = [];
  for (const host of hosts) {
    let accepted = 0;
    const state = { received: 0, held: false };
    const sockets = new Set<Socket>();
    const backend: FakeBackend = {
      host,
      stored: [],
      connections: () => accepted,
      received: () => state.received,
      hold() {
        state.held = true;
        for (const s of sockets) s.pause();
        return () => {
          state.held = false;
          for (const s of sockets) s.resume();
        };
      },
      behaviour: {},
    };
    const server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      if (state.held) s.pause();
      lmtpDialog(s, ++accepted, backend, (n) => (state.received += n));
    });
    await serve(t, server, (done) => server.listen(port, host, done));
    port = (server.address() as AddressInfo).port;
    backends.push(backend);
  }
  return { port, backends };
}

function lmtpDialog(s: Socket, connection: number, backend: FakeBackend, onBytes: (n: number) => void): void {
  let input: Buffer = Buffer.alloc(0);
  let out: string[] = [];
  let held = false;
  let bdat: { left: number; last: boolean } | undefined;
  let rcpts: string[] = [];
  let chunks: Buffer[] = [];
  let readsSinceMail = 0;
  const reply = (line: string): void => void out.push(`${line}\r\n`);
  const flush = (): void => {
    if (out.length > 0 && !s.destroyed) s.write(out.join(''));
    out = [];
  };

  function store(): void {
    // What it had to say before the message (the MAIL and RCPT replies) is out before it stores, as Dovecot's is.
    flush();
    const message: StoredMessage = { recipients: rcpts, body: Buffer.concat(chunks), connection, reads: readsSinceMail };
    backend.stored.push(message);
    const finals = rcpts.map((r) => `250 2.0.0 <${r}> Saved`);
    rcpts = [];
    chunks = [];
    const after = backend.behaviour.afterStore?.(message) ?? 'reply';
    if (after === 'reply') return finals.forEach(reply);
    if ('stallMs' in after) {
      finals.forEach(reply);
      const pending = out;
      out = [];
      held = true;
      setTimeout(() => {
        held = false;
        out = [...pending, ...out];
        flush();
        work();
      }, after.stallMs).unref();
      return;
    }
    finals.slice(0, after.replies).forEach(reply);
    flush();
    s.destroy();
  }

  function command(line: string): void {
    const verb = line.split(' ')[0]?.toUpperCase();
    if (verb === 'LHLO') return reply('250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 8BITMIME');
    if (verb === 'MAIL') {
      readsSinceMail = 1;
      const how = backend.behaviour.onMail?.(connection) ?? 'ok';
      if (how === 'ok') return reply('250 2.1.0 OK');
      reply(how === 'stale' ? '421 4.4.2 fake Disconnected for inactivity' : '250 2.1.0 OK');
      flush();
      if (how === 'stale') s.end();
      else s.destroy();
      return;
    }
    if (verb === 'RCPT') {
      const rcpt = /<([^>]*)>/.exec(line)?.[1] ?? '';
      const refusal = backend.behaviour.onRcpt?.(rcpt);
      if (refusal !== undefined) return reply(refusal);
      rcpts.push(rcpt);
      return reply('250 2.1.5 OK');
    }
    if (verb === 'BDAT') {
      const [, size = '', last] = line.split(' ');
      bdat = { left: Number(size), last: last?.toUpperCase() === 'LAST' };
      return;
    }
    if (verb === 'RSET') {
      rcpts = [];
      chunks = [];
      return reply('250 2.0.0 OK');
    }
    if (verb === 'QUIT') {
      reply('221 2.0.0 Bye');
      flush();
      s.end();
      return;
    }
    if (verb === 'NOOP') return reply('250 2.0.0 OK');
    reply('500 5.5.1 Unknown command');
  }

  function work(): void {
    while (!held && !s.destroyed && !s.writableEnded) {
      if (bdat) {
        const take = Math.min(bdat.left, input.length);
        if (take > 0) chunks.push(Buffer.from(input.subarray(0, take)));
        onBytes(take);
        input = input.subarray(take);
        bdat.left -= take;
        if (bdat.left > 0) break;
        const { last } = bdat;
        bdat = undefined;
        // As Dovecot: a chunk with no recipient taken is refused (and its bytes skipped).
        if (rcpts.length === 0) {
          chunks = [];
          reply('503 5.5.0 No valid recipients');
        } else if (last) store();
        else reply(`250 2.0.0 OK chunk`);
        continue;
      }
      const lf = input.indexOf(0x0a);
      if (lf === -1) break;
      const line = input.toString('latin1', 0, lf).replace(/\r$/, '');
      input = input.subarray(lf + 1);
      command(line);
    }
    if (!held) flush();
  }

  s.on('data', (chunk: Buffer) => {
    readsSinceMail++;
    input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
    work();
  });
  s.write('220 fake LMTP ready\r\n');
}
