/**
 * In-process TCP servers on 127.0.0.1, port 0, that play a scripted dialog with one client at a
 * time. Each is closed, and every accepted socket destroyed, in `t.after`.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';

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

export async function startFakeServer(t: TestContext, script: Script): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const received: string[] = [];
  let acceptFirst: (peer: FakePeer) => void = () => {};
  const firstPeer = new Promise<FakePeer>((resolve) => {
    acceptFirst = resolve;
  });
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const peer = createPeer(socket, received);
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
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { host: '127.0.0.1', port, received, firstPeer };
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

function createPeer(socket: Socket, received: string[]): FakePeer {
  const lines = createInterface({ input: socket, crlfDelay: Infinity })[Symbol.asyncIterator]();
  const closed = once(socket, 'close').then(() => undefined);
  return {
    send: (text) => {
      socket.write(text, 'latin1');
    },
    nextLine: async () => {
      const next = await lines.next();
      if (next.done === true) throw new Error('client closed the connection');
      received.push(next.value);
      return next.value;
    },
    end: () => {
      socket.end();
    },
    reset: () => {
      socket.resetAndDestroy();
    },
    closed,
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
