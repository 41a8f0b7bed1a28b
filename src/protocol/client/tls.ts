/**
 * TLS for the dialog clients: the options, their checks, and what a finished handshake tells.
 * `node:tls` (about 5 MB of resident memory) is loaded on the first TLS connection only, so an
 * agent whose checks are all plaintext never carries it.
 */
import { isIP, type Socket } from 'node:net';
import type { ConnectionOptions, SecureContext, TLSSocket } from 'node:tls';

export type TlsMode = 'implicit' | 'starttls';
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface TlsClientOptions {
  /**
   * `implicit`: TLS from the first byte (465, 993, 995, RFC 8314). `starttls`: the plaintext
   * greeting, then SMTP `STARTTLS` (EHLO again after it), IMAP `STARTTLS` or POP3 `STLS`, then the
   * handshake (25, 587, 143, 110). A peer that does not offer or refuses the upgrade is an error,
   * never a silent fall-back to plaintext.
   */
  readonly mode: TlsMode;
  /**
   * Name sent in SNI and checked against the certificate. Default: `host`, unless that is an IP
   * address; then no SNI is sent and the certificate must name the IP address.
   */
  readonly servername?: string;
  /** PEM certificate(s) to trust instead of Node's bundled roots, e.g. the platform's local CA. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /**
   * Default true: a certificate that does not chain to a trusted CA or does not name `servername`
   * fails with `PROTOCOL_TLS_UNTRUSTED`. false: the handshake must still succeed, but neither is
   * checked; only for a check of one's own daemon, where the question is whether it serves TLS.
   */
  readonly rejectUnauthorized?: boolean;
  /** Oldest protocol accepted. Default `TLSv1.2`. */
  readonly minVersion?: TlsMinVersion;
}

/** What the handshake established. */
export interface TlsDetail {
  /** e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** e.g. `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
  /** The SNI name sent, or undefined when none was. */
  readonly servername: string | undefined;
  /** True when the chain and the name were verified (always, unless `rejectUnauthorized: false`). */
  readonly authorized: boolean;
  /** The peer certificate's subjectAltName as Node prints it, e.g. `DNS:mx.example.com, DNS:imap.example.com`. */
  readonly subjectAltName: string;
  /** The peer certificate's notAfter, e.g. `Mar  1 12:00:00 2026 GMT`. */
  readonly validTo: string;
  /** SHA-256 fingerprint of the peer certificate, colon-separated hex. */
  readonly fingerprint256: string;
}

const MIN_VERSIONS: readonly string[] = ['TLSv1.2', 'TLSv1.3'];
/** A DNS name: letters, digits, hyphens and dots, no longer than 253 characters. */
const SERVERNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

/** The first problem with `tls`, naming the field, or undefined when it is acceptable. */
export function tlsOptionProblem(tls: TlsClientOptions): string | undefined {
  if (tls.mode !== 'implicit' && tls.mode !== 'starttls') return "tls.mode must be 'implicit' or 'starttls'";
  if (tls.servername !== undefined && !SERVERNAME.test(tls.servername)) return 'tls.servername must be a DNS name';
  if (tls.minVersion !== undefined && !MIN_VERSIONS.includes(tls.minVersion)) return `tls.minVersion must be one of ${MIN_VERSIONS.join(', ')}`;
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== 'boolean') return 'tls.rejectUnauthorized must be a boolean';
  // Node takes text without a certificate in it as an empty trust list; say so now rather than
  // as an untrusted peer later.
  const cas = tls.ca === undefined ? [] : Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  if (tls.ca !== undefined && (cas.length === 0 || !cas.every(holdsCertificate))) return 'tls.ca must be PEM text with at least one certificate';
  return undefined;
}

function holdsCertificate(pem: unknown): boolean {
  const text = Buffer.isBuffer(pem) ? pem.toString('latin1') : pem;
  return typeof text === 'string' && text.includes('-----BEGIN CERTIFICATE-----');
}

type TlsModule = typeof import('node:tls');
let tlsModule: Promise<TlsModule> | undefined;

/** `node:tls`, loaded once on first use. */
export function loadTls(): Promise<TlsModule> {
  tlsModule ??= import('node:tls');
  return tlsModule;
}

/**
 * Secure contexts by the options object they were built from. Building one per connection costs
 * CPU (the trust store is loaded each time) and, in a long-lived process such as the agent, several
 * megabytes of resident memory that are not given back; callers that dial again and again (health
 * checks) pass the same frozen options object and so share one context.
 */
const contexts = new WeakMap<TlsClientOptions, SecureContext>();

/** The secure context for `options`; throws (a certificate in `ca` that does not parse) before any socket is touched. */
export function secureContext(tls: TlsModule, options: TlsClientOptions): SecureContext {
  const cached = contexts.get(options);
  if (cached !== undefined) return cached;
  const context = tls.createSecureContext({
    minVersion: options.minVersion ?? 'TLSv1.2',
    ...(options.ca === undefined ? {} : { ca: options.ca as ConnectionOptions['ca'] }),
  });
  contexts.set(options, context);
  return context;
}

/** The SNI name for `host`: the option, else the host when it is a name. */
export function serverName(host: string, options: TlsClientOptions): string | undefined {
  return options.servername ?? (isIP(host) === 0 ? host : undefined);
}

/**
 * Starts the client handshake on `socket`. Verification runs but never destroys the socket by
 * itself (`rejectUnauthorized: false` here): the caller reads `authorized` once the handshake is
 * done and fails with its own error, so that an untrusted certificate is told apart from a failed
 * handshake. Nothing is written on the socket before that verdict.
 */
export function startHandshake(tls: TlsModule, socket: Socket, host: string, context: SecureContext, servername: string | undefined): TLSSocket {
  return tls.connect({
    socket,
    host,
    secureContext: context,
    rejectUnauthorized: false,
    ...(servername === undefined ? {} : { servername }),
  });
}

/** Why the peer is not trusted, or undefined when it is. */
export function untrustedReason(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  const reason = socket.authorizationError as Error | string | null | undefined;
  if (reason instanceof Error) return reason.message;
  return reason ?? 'certificate not verified';
}

export function tlsDetail(socket: TLSSocket, servername: string | undefined): TlsDetail {
  const certificate = socket.getPeerCertificate();
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher().standardName,
    servername,
    authorized: socket.authorized,
    subjectAltName: certificate.subjectaltname ?? '',
    validTo: certificate.valid_to,
    fingerprint256: certificate.fingerprint256,
  };
}
