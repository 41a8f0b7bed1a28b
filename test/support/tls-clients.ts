/**
 * Drives stock TLS clients against a platform: Python's smtplib, imaplib and poplib (tls-client.py) and
 * `openssl s_client`. Both verify the server against the test CA and send the name they mean as SNI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { join } from 'node:path';
import type { IssuedCertificate, TestCa } from './certificates.ts';
import { writePair } from './certificates.ts';

const SCRIPT = fileURLToPath(new URL('./tls-client.py', import.meta.url));
const CLIENT_TIMEOUT_MS = 60_000;

export interface ClientArgs {
  host: string;
  port: number;
  /** The server name the client means: SNI and the name verified. */
  name: string;
  ca: string;
  user?: string;
  password?: string;
  to?: string;
  sender?: string;
  mid?: string;
  /** Play the load balancer: connect from this address and send a PROXY v1 header naming `client` first. */
  proxy_from?: string;
  client?: string;
}

/** What the Python client saw of the server's certificate. */
export interface Peer {
  serial: string;
  names: string[];
  version: string;
  cipher: string;
}

/** Runs one action of tls-client.py to its end; its JSON answer. */
export function pythonClient<T = Record<string, unknown>>(action: string, args: ClientArgs): T & { error?: string } {
  const r = spawnSync('python3', [SCRIPT, action, JSON.stringify(args)], { encoding: 'utf8', timeout: CLIENT_TIMEOUT_MS });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T & { error?: string };
  } catch {
    throw new Error(`tls-client.py ${action} printed no JSON (status ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

export interface HeldSession {
  /** The certificate the session started on. */
  before: Peer;
  /** Lets the client use its session again; its final JSON answer. */
  finish(): Promise<Record<string, unknown>>;
}

/** Starts a `hold` action: resolves once the session is logged in; killed at the end of the test whatever happens. */
export async function holdSession(t: TestContext, action: 'hold' | 'hold-smtp', args: ClientArgs): Promise<HeldSession> {
  const child = spawn('python3', [SCRIPT, action, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`tls-client.py ${action} ended early: ${stderr}`);
    return JSON.parse(value) as Record<string, unknown>;
  };
  const first = await next();
  if (!first.ready) throw new Error(`tls-client.py ${action} did not get ready: ${JSON.stringify(first)} ${stderr}`);
  return {
    before: first.ready as Peer,
    async finish() {
      child.stdin.end('go\n');
      return next();
    },
  };
}

export interface SClientResult {
  ok: boolean;
  /** Serial of the server certificate (hex, upper case, no leading zeros), when the handshake completed. */
  serial?: string;
  protocol?: string;
  cipher?: string;
  output: string;
}

/** How a listener begins TLS: from the first byte, or after the protocol's STARTTLS. */
export type TlsStart = 'implicit' | 'smtp' | 'imap' | 'pop3';

/**
 * One `openssl s_client` handshake. `extra` adds options (`-tls1_1`, `-cipher …`); with `name` undefined
 * no SNI is sent. `input` is sent once the handshake is done (with `-ign_eof`, s_client then waits for the
 * server to close).
 */
export function sClient(host: string, port: number, start: TlsStart, name: string | undefined, ca: TestCa, extra: string[] = [], input = ''): SClientResult {
  const args = [
    's_client', '-connect', `${host}:${port}`, '-CAfile', ca.certFile, '-verify_return_error', '-showcerts',
    ...(start === 'implicit' ? [] : ['-starttls', start]),
    ...(name === undefined ? ['-noservername'] : ['-servername', name]),
    ...extra,
  ];
  const r = spawnSync('openssl', args, { encoding: 'utf8', input, timeout: 20_000 });
  const output = `${r.stdout}\n${r.stderr}`;
  const cipher = /^New, (\S+), Cipher is (\S+)/m.exec(output);
  const ok = cipher !== null && cipher[2] !== '(NONE)' && /Verify return code: 0 \(ok\)/.test(output);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout)?.[0];
  let serial: string | undefined;
  if (ok && pem) {
    serial = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: pem, encoding: 'utf8' }).stdout.trim().replace(/^serial=/, '').replace(/^0+/, '');
  }
  return { ok, ...(serial ? { serial } : {}), ...(cipher ? { protocol: cipher[1], cipher: cipher[2] } : {}), output };
}

/** A `spec.tls` with the files issuer, the pairs written under `dir`: `mailfleet up` installs them for the daemons. */
export function filesTls(dir: string, certificates: { name: string; hosts: string[]; pair: IssuedCertificate }[]): Record<string, unknown> {
  for (const c of certificates) writePair(join(dir, c.name), c.pair);
  return {
    issuer: 'files',
    certificates: certificates.map((c) => ({ name: c.name, hosts: c.hosts, certFile: join(dir, c.name, 'tls.crt'), keyFile: join(dir, c.name, 'tls.key') })),
  };
}

/**
 * A renewal: the pair replaced at its source (`filesTls`' dir), and where the agents read it, as the
 * runtime's renewal loop would install it (its next look may be up to `spec.tls.checkSeconds` away).
 */
export function replaceCertificate(stateDir: string, dir: string, name: string, pair: { cert: string; key: string }): void {
  writePair(join(dir, name), pair);
  writePair(join(stateDir, 'tls', 'certs', name), pair);
}
