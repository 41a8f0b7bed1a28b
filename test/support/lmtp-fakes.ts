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
 * `route(user)` names the user's backend, `undefined` for an unknown user, or `'stall'` to leave the lookup
 * unanswered.
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
}

/** How a backend answers once it has stored a message. */
export type AfterStore =
  | 'reply'
  /** Sits on every reply not yet flushed (the MAIL and RCPT replies pipelined with the message too) for `ms`. */
  | { readonly stallMs: number }
  /** Sends the replies up to `replies` final ones, then drops the connection. */
  | { readonly replies: number; readonly thenClose: true };

export interface BackendBehaviour {
  /** On MAIL: `'stale'` answers 421 and closes, as Dovecot does to a connection it has let idle too long. */
  onMail?(connection: number): 'ok' | 'stale';
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
 * LMTP backends on `hosts`, all on one port, offering PIPELINING and CHUNKING. Like Dovecot, each replies
 * to a batch of pipelined commands in one write after working through it, so a stall while storing holds back
 * the MAIL and RCPT replies of the same batch.
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
  const reply = (line: string): void => void out.push(`${line}\r\n`);
  const flush = (): void => {
    if (out.length > 0 && !s.destroyed) s.write(out.join(''));
    out = [];
  };

  function store(): void {
    const message: StoredMessage = { recipients: rcpts, body: Buffer.concat(chunks), connection };
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
      if (backend.behaviour.onMail?.(connection) === 'stale') {
        reply('421 4.4.2 fake Disconnected for inactivity');
        flush();
        s.end();
        return;
      }
      return reply('250 2.1.0 OK');
    }
    if (verb === 'RCPT') {
      rcpts.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
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
        if (last) store();
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
    input = input.length === 0 ? chunk : Buffer.concat([input, chunk]);
    work();
  });
  s.write('220 fake LMTP ready\r\n');
}
