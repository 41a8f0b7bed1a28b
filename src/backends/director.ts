/**
 * The Dovecot 2.3 director over the doveadm HTTP API of a proxy. The API key is sent, never logged, and only over
 * TLS: the proxy's certificate is checked against the doveadm hop's CA alone (derived from the same key,
 * src/internal-tls/client-cas.ts) for the name or address dialled.
 */
import { request } from 'node:https';
import { doveadmCa } from '../internal-tls/index.ts';
import { DirectorError } from './director-error.ts';
import { failoverSink } from './directors.ts';
import type { ConnectDirector, DirectorHost, DirectorMember, DirectorSink, Step } from './types.ts';

export { DirectorError, type DirectorErrorKind } from './director-error.ts';

/** doveadm exit codes the director answers with (sysexits). */
const EX_NOTFOUND = 68;
const EX_TEMPFAIL = 75;
const TIMEOUT_MS = 5000;
/** A reply past this is not a director's (its status lists hosts, never users): the call fails, memory stays bounded. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;
const REPLY_TOO_LARGE = 'REPLY_TOO_LARGE';

export interface DirectorEndpoint {
  /** `https://host:port` of a proxy's doveadm HTTP listener. */
  url: string;
}

type DoveadmReply = [string, unknown, string][];
type DoveadmCall = (command: string, params: Record<string, string>) => Promise<unknown>;

let tag = 0;

/** Node's codes for a certificate that does not verify, and OpenSSL's for a handshake that failed. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function tlsFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (CERTIFICATE_CODES.has(code) || code.startsWith('ERR_SSL_') || code === 'EPROTO');
}

/**
 * One POST over HTTPS, trusting `ca` alone; the deadline covers the whole exchange (connect, handshake, reply), and
 * a reply over MAX_REPLY_BYTES ends it.
 */
function post(url: URL, body: string, headers: Record<string, string>, ca: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      ca,
      minVersion: 'TLSv1.3',
      // Dovecot answers each request from a doveadm-server process and closes the connection: nothing to keep.
      agent: false,
      signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) req.destroy(Object.assign(new Error(`a reply over ${MAX_REPLY_BYTES} bytes`), { code: REPLY_TOO_LARGE }));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function doveadmCall(url: string, apiKey: string, timeoutMs: number): DoveadmCall {
  const auth = `X-Dovecot-API ${Buffer.from(apiKey).toString('base64')}`;
  const endpoint = new URL('/doveadm/v1', url);
  const ca = endpoint.protocol === 'https:' ? doveadmCa(apiKey).certPem : undefined;
  return async (command, params) => {
    // The key goes with every request: never in clear.
    if (ca === undefined) throw new DirectorError('failed', `${command} via ${url}: the doveadm API is called over https only`);
    const t = `mf${++tag}`;
    let res: { status: number; text: string };
    try {
      res = await post(endpoint, JSON.stringify([[command, params, t]]), { 'content-type': 'application/json', authorization: auth }, ca, timeoutMs);
    } catch (err) {
      if ((err as { code?: unknown }).code === REPLY_TOO_LARGE) throw new DirectorError('failed', `${command} via ${url}: ${(err as Error).message}`, err);
      if (tlsFailure(err)) {
        const reason = (err as Error).message.split('\n')[0]?.trim();
        throw new DirectorError('tls', `${command} via ${url}: TLS refused (${reason}); the proxy must serve a certificate of the doveadm CA for this name`, err);
      }
      throw new DirectorError('unreachable', `${command} via ${url}: ${(err as Error).message}`, err);
    }
    if (res.status === 401 || res.status === 403) throw new DirectorError('auth', `${command} via ${url}: doveadm API key refused (HTTP ${res.status})`);
    if (res.status < 200 || res.status > 299) throw new DirectorError('failed', `${command} via ${url}: HTTP ${res.status}`);
    let body: DoveadmReply;
    try {
      body = JSON.parse(res.text) as DoveadmReply;
    } catch {
      throw new DirectorError('failed', `${command} via ${url}: the reply is not JSON`);
    }
    const [kind, payload] = (Array.isArray(body) ? body[0] : undefined) ?? [];
    if (kind === 'doveadmResponse') return payload;
    const exitCode = (payload as { exitCode?: number } | undefined)?.exitCode;
    const target = params.host ?? params.ip ?? '';
    if (exitCode === EX_NOTFOUND) throw new DirectorError('notfound', `${command} ${target}: not found`);
    if (exitCode === EX_TEMPFAIL) throw new DirectorError('tempfail', `${command} ${target}: director busy or host unknown (exit ${exitCode})`);
    throw new DirectorError('failed', `${command} via ${url}: ${JSON.stringify(payload)}`);
  };
}

function hostsOf(rows: Record<string, string>[]): DirectorHost[] {
  return rows.map((r) => ({
    address: r['mail server ip'] ?? '',
    vhosts: Number(r.vhosts ?? 0),
    up: r.state === 'up',
    users: Number(r.users ?? 0),
  }));
}

async function applyStep(call: DoveadmCall, step: Step): Promise<void> {
  const host = step.address;
  switch (step.op) {
    case 'add':
      await call('directorAdd', { host, vhostCount: String(step.vhosts) });
      return;
    case 'update':
      await call('directorUpdate', { host, vhostCount: String(step.vhosts) });
      return;
    case 'up':
      await call('directorUp', { host });
      return;
    case 'down':
      await call('directorDown', { host });
      return;
    case 'flush':
      await call('directorFlush', { host });
      return;
    case 'remove':
      try {
        await call('directorRemove', { host });
      } catch (err) {
        // Already gone is what we wanted.
        if (!(err instanceof DirectorError && err.kind === 'notfound')) throw err;
      }
      return;
  }
}

/** One proxy's director. `ringPort` is where directors listen for each other (`director ring add ip port`). */
export function createDoveadmDirector(opts: { url: string; apiKey: string; ringPort: number; timeoutMs?: number }): DirectorMember & { call: DoveadmCall } {
  const call = doveadmCall(opts.url, opts.apiKey, opts.timeoutMs ?? TIMEOUT_MS);
  return {
    call,
    list: async () => hostsOf((await call('directorStatus', {})) as Record<string, string>[]),
    apply: (step) => applyStep(call, step),
    async ring() {
      const rows = (await call('directorRingStatus', {})) as Record<string, string>[];
      return [...new Set(rows.map((r) => r['director ip'] ?? '').filter(Boolean))];
    },
    ringAdd: async (address) => void (await call('directorRingAdd', { ip: address, port: String(opts.ringPort) })),
    ringRemove: async (address) => void (await call('directorRingRemove', { ip: address, port: String(opts.ringPort) })),
  };
}

/** Connects to real directors over doveadm HTTP. */
export function doveadmDirectors(opts: { apiKey: string; ringPort: number; timeoutMs?: number }): ConnectDirector {
  return (d) => createDoveadmDirector({ url: d.url, apiKey: opts.apiKey, ringPort: opts.ringPort, timeoutMs: opts.timeoutMs });
}

/**
 * The director ring through any of `endpoints()` (asked on every call: proxies move), for callers that
 * only read or write hosts (the mailbox drain, tests): no ring changes, so no ring port.
 */
export function createDirectorSink(opts: { endpoints: () => DirectorEndpoint[]; apiKey: string; timeoutMs?: number }): DirectorSink & { call: DoveadmCall } {
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  const sink = failoverSink(() => opts.endpoints().map((e) => createDoveadmDirector({ url: e.url, apiKey: opts.apiKey, ringPort: 0, timeoutMs })));
  return { list: () => sink.list(), apply: (step) => sink.apply(step), call: (command, params) => sink.first(command, (m) => m.call(command, params)) };
}
