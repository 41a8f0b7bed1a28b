/**
 * The requests the load generator sends: what Postfix 3.7's smtpd (Debian 12) sends to a policy service at RCPT,
 * every attribute of that version in its order, empty ones as `name=`. Seeded, encoded once into a pool of
 * buffers that the connections cycle through, so sending a request allocates nothing.
 *
 * The pool is a sequence of mail transactions: a client (one of `clients` addresses, about 1 in 10 IPv6), a
 * sender and one to five recipients, each recipient one request sharing the transaction's `instance`. Most are
 * inbound MX traffic on port 25 (external senders to hosted users, some with a null sender, some unauthenticated
 * without TLS); about 1 in 5 are authenticated submissions on port 587 (SASL user, hosted sender, external
 * recipients). Client addresses come from the benchmarking range 198.18.0.0/15 (RFC 2544) and 2001:db8::/32,
 * so they never name a real host.
 */
import { seededRandom, type Random } from '../exporter/random.ts';

export interface PoolOptions {
  seed: number;
  /** Requests in the pool (the connections cycle through it). */
  requests: number;
  /** Distinct client addresses. */
  clients: number;
}

export interface RequestPool {
  requests: Buffer[];
  /** The client addresses, in the order they were drawn. */
  clients: string[];
  /** Requests per client address in the pool. */
  perClient: Map<string, number>;
  /** Mean request size in bytes. */
  meanBytes: number;
}

/** Networks the client addresses come from (the anchors' limited networks must cover them and {@link PROBE_CLIENT}). */
export const CLIENT_NETWORKS = ['198.18.0.0/15', '2001:db8::/32'] as const;
/** The client of the rule check: outside the load's addresses, so the load never counts against it. */
export const PROBE_CLIENT = '192.0.2.1';
export const PROBE_NETWORK = '192.0.2.0/24';

const HOSTED_DOMAINS = ['example.com', 'example.net', 'mail.example.org'];
const EXTERNAL_DOMAINS = ['gmail.example', 'outlook.example', 'yahoo.example', 'shop.example', 'news.example', 'bank.example', 'lists.example'];
const FIRST = ['anna', 'ben', 'carla', 'dimitri', 'eva', 'farid', 'greta', 'hugo', 'ines', 'jonas', 'kira', 'lars', 'mia', 'noah', 'olga', 'paul'];
const HEX = '0123456789ABCDEF';

function clientAddress(r: Random): string {
  if (r.chance(0.1)) {
    const group = () => r.int(0, 0xffff).toString(16);
    return `2001:db8:${group()}:${group()}::${group()}:${group()}`;
  }
  return `198.${r.int(18, 19)}.${r.int(0, 255)}.${r.int(1, 254)}`;
}

const user = (r: Random) => `${r.pick(FIRST)}${r.chance(0.5) ? `.${r.pick(FIRST)}` : ''}${r.chance(0.3) ? r.int(1, 99) : ''}`;
const queueId = (r: Random) => Array.from({ length: 10 }, () => HEX[r.int(0, 15)]).join('');

/** The attributes of one RCPT request, in Postfix 3.7's order (`smtpd_check.c`, `check_policy_service`). */
export interface Transaction {
  client: string;
  clientName: string;
  helo: string;
  submission: boolean;
  tls: boolean;
  sender: string;
  recipients: string[];
  instance: string;
  queueId: string;
  size: number;
  port: number;
}

function transaction(r: Random, clients: string[], seq: number): Transaction {
  const client = r.pick(clients);
  const submission = r.chance(0.2);
  const host = `mail${r.int(1, 40)}.${r.pick(EXTERNAL_DOMAINS)}`;
  const recipients = Array.from({ length: Number(r.weighted({ 1: 60, 2: 20, 3: 10, 4: 6, 5: 4 })) }, () =>
    submission ? `${user(r)}@${r.pick(EXTERNAL_DOMAINS)}` : `${user(r)}@${r.pick(HOSTED_DOMAINS)}`);
  return {
    client,
    clientName: r.chance(0.1) ? 'unknown' : host,
    helo: r.chance(0.05) ? `[${client}]` : host,
    submission,
    tls: submission || r.chance(0.75),
    sender: submission ? `${user(r)}@${r.pick(HOSTED_DOMAINS)}` : r.chance(0.03) ? '' : `${user(r)}@${r.pick(EXTERNAL_DOMAINS)}`,
    recipients,
    // smtpd's instance: process id, time and a sequence number, in hex.
    instance: `${(1000 + (seq % 30000)).toString(16)}.${(0x65700000 + seq).toString(16)}.${r.int(0, 999999).toString(16)}.0`,
    queueId: queueId(r),
    size: r.chance(0.7) ? Math.round(r.logUniform(800, 5_000_000)) : 0,
    port: r.int(1024, 65535),
  };
}

/** The request for recipient `n` of `t`, encoded as smtpd writes it (attribute lines, then an empty line). */
export function encodeRequest(t: Transaction, n: number): Buffer {
  const sasl = t.submission;
  const attrs: [string, string | number][] = [
    ['request', 'smtpd_access_policy'],
    ['protocol_state', 'RCPT'],
    ['protocol_name', 'ESMTP'],
    ['client_address', t.client],
    ['client_name', t.clientName],
    ['client_port', t.port],
    ['reverse_client_name', t.clientName],
    ['server_address', t.client.includes(':') ? '2001:db8:ffff::25' : '198.19.255.25'],
    ['server_port', sasl ? 587 : 25],
    ['helo_name', t.helo],
    ['sender', t.sender],
    ['recipient', t.recipients[n] ?? ''],
    ['recipient_count', 0],
    // The queue file is opened after the first accepted recipient (smtpd_delay_open_until_valid_rcpt = yes).
    ['queue_id', n === 0 ? '' : t.queueId],
    ['instance', t.instance],
    ['size', t.size],
    ['etrn_domain', ''],
    ['stress', ''],
    ['sasl_method', sasl ? 'PLAIN' : ''],
    ['sasl_username', sasl ? t.sender : ''],
    ['sasl_sender', ''],
    ['ccert_subject', ''],
    ['ccert_issuer', ''],
    ['ccert_fingerprint', ''],
    ['ccert_pubkey_fingerprint', ''],
    ['encryption_protocol', t.tls ? 'TLSv1.3' : ''],
    ['encryption_cipher', t.tls ? 'TLS_AES_256_GCM_SHA384' : ''],
    ['encryption_keysize', t.tls ? 256 : 0],
    ['policy_context', ''],
  ];
  return Buffer.from(`${attrs.map(([k, v]) => `${k}=${v}`).join('\n')}\n\n`, 'latin1');
}

/** The seeded pool of requests: whole transactions until `requests` are written (the last one may be cut short). */
export function requestPool(opts: PoolOptions): RequestPool {
  const r = seededRandom(opts.seed);
  const clients = Array.from({ length: opts.clients }, () => clientAddress(r));
  const requests: Buffer[] = [];
  const perClient = new Map<string, number>();
  let bytes = 0;
  for (let seq = 0; requests.length < opts.requests; seq++) {
    const t = transaction(r, clients, seq);
    for (let n = 0; n < t.recipients.length && requests.length < opts.requests; n++) {
      const req = encodeRequest(t, n);
      requests.push(req);
      bytes += req.length;
      perClient.set(t.client, (perClient.get(t.client) ?? 0) + 1);
    }
  }
  return { requests, clients, perClient, meanBytes: bytes / Math.max(1, requests.length) };
}

/** The rule check's request: a single recipient from {@link PROBE_CLIENT}, numbered `n`. */
export function probeRequest(n: number): Buffer {
  return encodeRequest({
    client: PROBE_CLIENT,
    clientName: 'probe.bench.example',
    helo: 'probe.bench.example',
    submission: false,
    tls: true,
    sender: 'probe@bench.example',
    recipients: [`rcpt${n}@example.com`],
    instance: `1.${n.toString(16)}.0.0`,
    queueId: '',
    size: 1000,
    port: 40000,
  }, 0);
}
