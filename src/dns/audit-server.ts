/**
 * A counting DNS server for audits: UDP and TCP on one loopback address and port. It records every
 * query it can parse (name, type, transport) before answering, so once a client has its answers the
 * record is complete. Names in the `existing` set get A 127.0.0.1 / AAAA ::1 (NODATA for other types), names
 * given TXT records get those (a test's zone); every other name gets NXDOMAIN. Packets that do not parse are counted, answered with FORMERR when
 * they carry a query header, and otherwise dropped.
 */
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { MailfleetError, errorMessage } from '../errors.ts';
import { isLoopbackAddress } from '../sockets.ts';
import { absoluteName } from './search.ts';
import { createFrameReader, frame } from './tcp-frames.ts';
import { buildFormatError, buildResponse, parseQuery, qtypeName } from './wire.ts';

/** Where `mailfleet dns audit --observe` listens. glibc only talks to port 53. */
export const AUDIT_SERVER_HOST = '127.53.0.1';
export const DNS_PORT = 53;
/** A TCP client silent for this long is disconnected. */
export const TCP_IDLE_TIMEOUT_MS = 10_000;
const PORT_ZERO_RETRIES = 5;

export interface AuditServerOptions {
  /** A loopback address (127.0.0.0/8 or ::1). Default {@link AUDIT_SERVER_HOST}. */
  readonly host?: string;
  /** Port for both UDP and TCP. Default {@link DNS_PORT}; 0 picks one free for both. */
  readonly port?: number;
  /** Names answered with addresses (any case, trailing dot optional); all others get NXDOMAIN. */
  readonly existing: Iterable<string>;
  /**
   * TXT records by name (any case, trailing dot optional), each record as its character strings: these names
   * exist too, and answer TXT queries with them (and A/AAAA with NODATA). Default none.
   */
  readonly txt?: Readonly<Record<string, readonly (readonly string[])[]>>;
}

export interface ObservedQuery {
  /** Absolute, presentation form: `mx.example.co.jp.` */
  readonly name: string;
  /** `A`, `AAAA`, `MX`, ... or `TYPEnnn`. */
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
}

export interface AuditServer {
  readonly host: string;
  readonly port: number;
  /** Every query parsed so far, in arrival order (a copy). */
  queries(): ObservedQuery[];
  /** Datagrams and TCP frames that did not parse. */
  malformed(): number;
  /** Stops both listeners and drops every TCP connection. Safe to call twice. */
  close(): Promise<void>;
}

type UdpHandler = (socket: UdpSocket, packet: Buffer, peer: RemoteInfo) => void;

/** Binds a UDP socket with its handler already attached, so no early datagram goes unanswered. */
async function bindUdp(host: string, port: number, onMessage: UdpHandler): Promise<UdpSocket> {
  const udp = createSocket({ type: isIPv4(host) ? 'udp4' : 'udp6' });
  udp.on('message', (packet, peer) => onMessage(udp, packet, peer));
  try {
    udp.bind(port, host);
    await once(udp, 'listening');
    return udp;
  } catch (err) {
    await closeUdp(udp);
    throw err;
  }
}

async function listenTcp(server: Server, host: string, port: number): Promise<void> {
  server.listen({ host, port, exclusive: true });
  await once(server, 'listening');
}

function closeUdp(udp: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      udp.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

export async function startAuditServer(options: AuditServerOptions): Promise<AuditServer> {
  const host = options.host ?? AUDIT_SERVER_HOST;
  const requestedPort = options.port ?? DNS_PORT;
  if (!isLoopbackAddress(host)) throw new MailfleetError('DNS_AUDIT_FAILED', `the audit DNS server listens on loopback only, not ${host}`);
  const existing = new Set([...options.existing].map(absoluteName));
  const txt = new Map(Object.entries(options.txt ?? {}).map(([name, records]) => [absoluteName(name), records]));
  const recorded: ObservedQuery[] = [];
  const connections = new Set<Socket>();
  let malformedCount = 0;

  function answer(packet: Uint8Array, transport: ObservedQuery['transport']): Uint8Array | undefined {
    const parsed = parseQuery(packet);
    if (!parsed.ok) {
      malformedCount += 1;
      return buildFormatError(packet);
    }
    const { query } = parsed;
    recorded.push({ name: query.name, type: qtypeName(query.qtype), transport });
    const name = query.name.toLowerCase();
    const records = txt.get(name);
    if (records !== undefined) return buildResponse(query, 'exists', { txt: records });
    return buildResponse(query, existing.has(name) ? 'exists' : 'nxdomain');
  }

  const tcp = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(TCP_IDLE_TIMEOUT_MS, () => socket.destroy());
    const reader = createFrameReader();
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const response = answer(message, 'tcp');
        if (response !== undefined && !socket.destroyed) socket.write(frame(response));
      }
    });
  });

  let udp: UdpSocket | undefined;
  let port = requestedPort;
  for (let attempt = 0; udp === undefined; attempt += 1) {
    let bound: UdpSocket | undefined;
    try {
      bound = await bindUdp(host, requestedPort, (udpSocket, packet, peer) => {
        const response = answer(packet, 'udp');
        if (response !== undefined) udpSocket.send(response, peer.port, peer.address);
      });
      port = bound.address().port;
      await listenTcp(tcp, host, port);
      udp = bound;
    } catch (err) {
      if (bound) await closeUdp(bound);
      const code = (err as NodeJS.ErrnoException).code;
      // With port 0 the UDP port may be taken for TCP; pick another pair.
      if (requestedPort === 0 && code === 'EADDRINUSE' && attempt < PORT_ZERO_RETRIES) continue;
      const why = code === 'EADDRINUSE' ? 'the address is in use (is another audit running?)' : code === 'EACCES' ? `binding port ${requestedPort} needs root` : errorMessage(err);
      throw new MailfleetError('DNS_AUDIT_FAILED', `the audit DNS server cannot listen on ${host}:${requestedPort}: ${why}`, { cause: err });
    }
  }

  const socket = udp;
  socket.on('error', () => {});

  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    queries: () => [...recorded],
    malformed: () => malformedCount,
    close() {
      closing ??= (async () => {
        for (const connection of connections) connection.destroy();
        const tcpClosed = new Promise<void>((resolve) => tcp.close(() => resolve()));
        await Promise.all([tcpClosed, closeUdp(socket)]);
      })();
      return closing;
    },
  };
}
