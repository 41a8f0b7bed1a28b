/**
 * In-process TCP servers on 127.0.0.1, port 0, that play a scripted dialog with one client at a
 * time, and can turn the connection into TLS when the script says so (right away for implicit
 * TLS, or after answering STARTTLS). Each is closed, and every accepted socket destroyed, in `t.after`.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { TLSSocket, createSecureContext, type SecureContextOptions } from 'node:tls';

export interface FakePeer {
  /** Writes raw text (put the CRLFs in yourself). */
  send(text: string): void;
  /** The next line the client sent, without its terminator; rejects when the client has closed. */
  nextLine(): Promise<string>;
  /** Ends the connection from the server side. */
  end(): void;
  /** Resets the connection (TCP RST). */
  reset(): void;
  /** Resolves when the client's side is closed. */
  readonly closed: Promise<void>;
  /** The accepted socket itself, for scripts that relay raw bytes. */
  readonly socket: Socket;
  /**
   * Runs the server side of a TLS handshake on the connection (the server needs `tls`); resolves
   * with the SNI name the client sent, rejects when the handshake fails.
   */
  startTls(): Promise<{ servername: string | undefined }>;
}

export interface FakeServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Key and certificate for `peer.startTls()`. */
  readonly tls?: SecureContextOptions;
}

export type Script = (peer: FakePeer) => Promise<void> | void;

export interface FakeServer {
  readonly host: string;
  readonly port: number;
  /** Every line clients sent, in order. */
  readonly received: string[];
  /** Resolves with the first accepted connection. */
  readonly firstPeer: Promise<FakePeer>;
}

export async function startFakeServer(t: TestContext, script: Script, options: FakeServerOptions = {}): Promise<FakeServer> {
  const context = options.tls === undefined ? undefined : createSecureContext(options.tls);
  const sockets = new Set<Socket>();
  const received: string[] = [];
  let acceptFirst: (peer: FakePeer) => void = () => {};
  const firstPeer = new Promise<FakePeer>((resolve) => {
    acceptFirst = resolve;
  });
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const peer = createPeer(socket, received, (secure) => sockets.add(secure), context);
    acceptFirst(peer);
    Promise.resolve()
      .then(() => script(peer))
      .catch(() => socket.destroy());
  });
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  });
  const host = options.host ?? '127.0.0.1';
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { host, port, received, firstPeer };
}

/** A port on which nothing listens: bound once, then closed. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function createPeer(socket: Socket, received: string[], track: (secure: Socket) => void, context: ReturnType<typeof createSecureContext> | undefined): FakePeer {
  let current: Socket = socket;
  let pending = '';
  const lines: string[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString('latin1');
    for (let lf = pending.indexOf('\n'); lf !== -1; lf = pending.indexOf('\n')) {
      lines.push(pending.slice(0, lf).replace(/\r$/, ''));
      pending = pending.slice(lf + 1);
    }
    wake?.();
  };
  const onEnd = (): void => {
    ended = true;
    wake?.();
  };
  const listen = (target: Socket): void => {
    target.on('data', onData);
    target.on('end', onEnd);
    target.on('close', onEnd);
  };
  listen(socket);
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
  });
  return {
    send: (text) => {
      current.write(text, 'latin1');
    },
    nextLine: async () => {
      while (lines.length === 0) {
        if (ended) throw new Error('client closed the connection');
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      const line = lines.shift() as string;
      received.push(line);
      return line;
    },
    end: () => {
      current.end();
    },
    reset: () => {
      socket.resetAndDestroy();
    },
    closed,
    socket,
    async startTls() {
      if (context === undefined) throw new Error('startFakeServer needs options.tls for startTls');
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      const secure = new TLSSocket(socket, { isServer: true, secureContext: context });
      track(secure);
      secure.on('error', () => {});
      current = secure;
      listen(secure);
      await Promise.race([
        once(secure, 'secure'),
        once(secure, 'close').then(() => {
          throw new Error('the client closed during the handshake');
        }),
      ]);
      const servername = (secure as TLSSocket & { servername?: string | false }).servername;
      return { servername: typeof servername === 'string' ? servername : undefined };
    },
  };
}

/** A script that sends `greeting`, answers each client line with the next of `replies`, then hangs up. */
export function answering(greeting: string, ...replies: string[]): Script {
  return async (peer) => {
    peer.send(greeting);
    for (const reply of replies) {
      await peer.nextLine();
      peer.send(reply);
    }
    peer.end();
  };
}
