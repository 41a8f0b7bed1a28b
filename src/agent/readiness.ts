import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { ldapStartTlsOptions, postfixHealthHost, readerDn } from '../config/index.ts';
import { clamdPing, imapCapability, lmtpLhlo, pop3Capa, redisPing, smtpEhlo } from '../protocol/index.ts';
import { parseHttpResponse } from '../protocol/scrape.ts';
import { requireSecret, type AgentRole, type PlatformSpec } from '../spec/index.ts';
import { selfDialled } from './internal-tls.ts';
import { redisCa } from '../internal-tls/index.ts';

/** One protocol dialogue against the instance's own daemon; throws when it does not succeed. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

/**
 * A bind and a search as Postfix's account, after StartTLS as every client does. slapd's certificate names the
 * address it listens on, or 127.0.0.1 where that is every address (a pod), which is then what this dials.
 */
async function ldapSearch(ldapts: Promise<typeof import('ldapts')>, spec: PlatformSpec, dialled: string, tls: ReturnType<typeof ldapStartTlsOptions>, timeoutMs: number): Promise<void> {
  const { Client } = await ldapts;
  const client = new Client({ url: ldapUrl(spec, dialled), timeout: timeoutMs, connectTimeout: timeoutMs });
  try {
    // A copy: ldapts puts its socket into the options it is given.
    await client.startTLS({ ...tls });
    await client.bind(readerDn(spec), requireSecret(spec, 'ldapReaderPassword'));
    await client.search(`ou=domains,${spec.ldap.baseDn}`, { scope: 'one', sizeLimit: 1, attributes: ['associatedDomain'] });
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

const ldapUrl = (spec: PlatformSpec, dialled: string): string => `ldap://${dialled.includes(':') ? `[${dialled}]` : dialled}:${spec.ports.ldap}`;

/** An anonymous search of slapd's root DSE: slapd answers, with no bind (so nothing to protect) and no TLS. */
async function ldapRootDse(ldapts: Promise<typeof import('ldapts')>, spec: PlatformSpec, dialled: string, timeoutMs: number): Promise<void> {
  const { Client } = await ldapts;
  const client = new Client({ url: ldapUrl(spec, dialled), timeout: timeoutMs, connectTimeout: timeoutMs });
  try {
    await client.search('', { scope: 'base', attributes: ['namingContexts'] });
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

export const OPENSSL = '/usr/bin/openssl';

/** The most of an answer `httpPing` reads: rspamd's `/ping` answer (headers and `pong`) is about 150 bytes. */
const PING_ANSWER_LIMIT = 4096;

/**
 * GET `path` over plain HTTP/1.0 and expect 200 with `expected` as the body's first line: rspamd's controller
 * answers `/ping` with `pong` once its workers are up. A raw socket rather than node:http, whose import loads
 * node:tls into every agent; the answer read is bounded.
 */
export function httpPing(host: string, port: number, path: string, expected: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const where = `GET ${path} on ${host}:${port}`;
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (failure?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (failure) reject(failure);
      else resolve();
    };
    const onAbort = () => finish(new Error(`${where}: aborted`));
    const timer = setTimeout(() => finish(new Error(`${where}: no answer within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > PING_ANSWER_LIMIT) return finish(new Error(`${where}: answer larger than ${PING_ANSWER_LIMIT} bytes`));
      chunks.push(chunk);
    });
    socket.on('error', (err) => finish(new Error(`${where}: ${err.message}`)));
    socket.on('close', () => {
      const answer = parseHttpResponse(Buffer.concat(chunks));
      if (!answer.ok) return finish(new Error(`${where}: ${answer.error.message}`));
      const line = answer.value.body.toString('latin1').split(/\r?\n/, 1)[0] ?? '';
      if (answer.value.status === 200 && line === expected) finish();
      else finish(new Error(`${where}: ${answer.value.status} ${JSON.stringify(line.slice(0, 64))}`));
    });
  });
}

/**
 * Implicit TLS for a check of the instance's own daemon: a TLS handshake, then the daemon's greeting
 * (`220 ` SMTP, `* OK` IMAP, `+OK` POP3) over it. The chain and name are not checked: the check dials
 * the daemon's own address, which no certificate names; the agent does not hold the issuing CA in
 * Kubernetes (cert-manager's chain may end at a public root or a CA kept elsewhere); and a certificate
 * about to expire is for the renewal, the certificate metrics and `mailfleet status` to report, not a
 * reason to take every replica out of its Service at the same moment. Clients verify; this asks only
 * whether TLS is served.
 *
 * The handshake runs in an `openssl s_client` process, not in the agent: TLS in the agent's own process
 * keeps about 3.5 MB resident after the first handshake, past the agent's memory budget (64 MB), for a
 * check that runs every 30 s.
 */
export function tlsGreeting(host: string, port: number, greeting: RegExp, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL, ['s_client', '-connect', `${host}:${port}`, '-quiet', '-verify_quiet'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let settled = false;
    const finish = (failure?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      child.kill('SIGKILL');
      if (failure) reject(failure);
      else resolve();
    };
    const onAbort = () => finish(new Error(`TLS on ${host}:${port}: aborted`));
    const timer = setTimeout(() => finish(new Error(`TLS on ${host}:${port}: no greeting within ${timeoutMs} ms`)), timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      if (out.length < 4096) out += chunk;
      const line = out.split('\n', 1)[0] ?? '';
      if (out.includes('\n')) finish(greeting.test(line) ? undefined : new Error(`TLS on ${host}:${port}: unexpected greeting ${JSON.stringify(line.slice(0, 120))}`));
    });
    child.stderr.setEncoding('latin1');
    child.stderr.on('data', (chunk: string) => {
      if (err.length < 4096) err += chunk;
    });
    child.once('error', (e) => finish(new Error(`TLS on ${host}:${port}: cannot run ${OPENSSL}: ${e.message}`)));
    child.once('exit', (code) => finish(new Error(`TLS on ${host}:${port}: handshake failed (openssl exit ${code ?? 'signal'}): ${err.trim().split('\n').slice(-2).join(' ').slice(0, 300)}`)));
    child.stdin.on('error', () => undefined);
  });
}

/**
 * After a success, the implicit-TLS dialogues run again only once this much time has passed; a
 * failed one runs again on every probe. A handshake in a child process costs a few ms of CPU; two
 * per probe (every 5 s) would take the proxy's agent past its idle budget (1 ms/s). The plaintext
 * dialogues, which reach the same daemon, still run on every probe.
 */
export const TLS_RECHECK_MS = 60_000;

/** `check`, skipped while its last success is younger than `everyMs`. */
function afterSuccessEvery(check: ReadinessCheck, everyMs: number, now: () => number): ReadinessCheck {
  let passedAt: number | undefined;
  return async (signal) => {
    if (passedAt !== undefined && now() - passedAt < everyMs) return;
    passedAt = undefined;
    await check(signal);
    passedAt = now();
  };
}

/** A proxy's SMTP AUTH path (src/auth-relay): Dovecot auth's socket, and the relay key its agent takes on the auth port. */
export interface AuthRelayCheck {
  socketPath: string;
  secret: string;
  identity: string;
}

/** The local sockets a check uses besides the ports: a proxy's Dovecot auth and relay, Redis's own socket. */
export interface LocalSockets {
  authRelay?: AuthRelayCheck;
  /** Redis's unix socket: PING there at every probe (without it, only the check over TLS runs). */
  redisSocket?: string;
}

/**
 * The msas' SMTP AUTH on a proxy: an unready proxy leaves the proxy-auth Service, so its auth must be up too. Dovecot
 * auth's handshake on its socket at every probe; through the relay (a TLS handshake with the key, as an msa makes)
 * once a {@link TLS_RECHECK_MS}. Nothing when no msa runs.
 */
function proxyAuthCheck(host: string, port: number, timeoutMs: number, now: () => number, relay: AuthRelayCheck | undefined): ReadinessCheck {
  if (relay === undefined) return async () => undefined;
  const relayed = afterSuccessEvery(async (signal) => {
    const { authRelayHandshake } = await import('../auth-relay/index.ts');
    await authRelayHandshake({ host: postfixHealthHost(host), port }, relay.secret, relay.identity, timeoutMs, signal);
  }, TLS_RECHECK_MS, now);
  return async (signal) => {
    const { dovecotAuthSocketHandshake } = await import('../auth-relay/index.ts');
    await Promise.all([dovecotAuthSocketHandshake(relay.socketPath, timeoutMs, signal), relayed(signal)]);
  };
}

/**
 * The readiness dialogue of each role (DESIGN: readiness = the protocol dialogue succeeds).
 * `now` is the clock {@link TLS_RECHECK_MS} is measured with.
 */
export function readinessCheck(role: AgentRole, spec: PlatformSpec, host: string, timeoutMs: number, now: () => number = Date.now, local: LocalSockets = {}): ReadinessCheck {
  const { authRelay } = local;
  const { ports } = spec;
  const base = { host, timeoutMs };
  switch (role) {
    // Postfix's health-check smtpd (config/postfix.ts), with processes of its own: a public port whose every
    // smtpd a client holds still has a Postfix behind it that answers.
    case 'mta':
      return async (signal) => void (await smtpEhlo({ ...base, host: postfixHealthHost(host), port: ports.smtpHealth, heloName: 'readiness.mailfleet', signal }));
    case 'msa': {
      const submissions = afterSuccessEvery(async (signal) => {
        await tlsGreeting(postfixHealthHost(host), ports.submissionsHealth, /^220 /, timeoutMs, signal);
      }, TLS_RECHECK_MS, now);
      return async (signal) => {
        await Promise.all([smtpEhlo({ ...base, host: postfixHealthHost(host), port: ports.smtpHealth, heloName: 'readiness.mailfleet', signal }), submissions(signal)]);
      };
    }
    case 'mailbox':
      return async (signal) => {
        await Promise.all([
          lmtpLhlo({ ...base, port: ports.lmtp, heloName: 'readiness.mailfleet', signal }),
          imapCapability({ ...base, port: ports.imap, signal }),
          pop3Capa({ ...base, port: ports.pop3, signal }),
        ]);
      };
    case 'proxy': {
      const implicitTls = afterSuccessEvery(async (signal) => {
        await Promise.all([
          tlsGreeting(host, ports.imaps, /^\* OK/, timeoutMs, signal),
          tlsGreeting(host, ports.pop3s, /^\+OK/, timeoutMs, signal),
        ]);
      }, TLS_RECHECK_MS, now);
      const auth = proxyAuthCheck(host, ports.auth, timeoutMs, now, authRelay);
      return async (signal) => {
        await Promise.all([
          lmtpLhlo({ ...base, port: ports.lmtp, heloName: 'readiness.mailfleet', signal }),
          imapCapability({ ...base, port: ports.imap, signal }),
          pop3Capa({ ...base, port: ports.pop3, signal }),
          auth(signal),
          implicitTls(signal),
        ]);
      };
    }
    case 'ldap': {
      // Only the ldap role's agent loads the LDAP client (with TLS); it starts loading with the agent.
      const ldapts = import('ldapts');
      // A failed load fails each check that awaits it, not the agent before the first check.
      ldapts.catch(() => undefined);
      // What slapd's certificate names for this check (ldap-tls.ts).
      const dialled = selfDialled(host);
      // The CA once, not at every check.
      const tls = ldapStartTlsOptions(spec, dialled);
      // StartTLS and the bind as clients make them once a TLS_RECHECK_MS (a handshake at every probe took the
      // agent to 1.2 ms/s idle); slapd answering a search of its root DSE, which needs no bind, at every probe.
      const bound = afterSuccessEvery(async () => ldapSearch(ldapts, spec, dialled, tls, timeoutMs), TLS_RECHECK_MS, now);
      return async (signal) => {
        await ldapRootDse(ldapts, spec, dialled, timeoutMs);
        await bound(signal);
      };
    }
    case 'kvs': {
      const password = requireSecret(spec, 'redisPassword');
      // What Redis's certificate names for this check (redis-tls.ts).
      const dialled = selfDialled(host);
      // One options object for every check: the dialog caches its TLS context by it.
      const tls = { mode: 'implicit', ca: redisCa(password).certPem, minVersion: 'TLSv1.3' } as const;
      // TLS, AUTH and PING as clients make them once a TLS_RECHECK_MS; PING on Redis's own socket at every probe.
      const overTls = afterSuccessEvery(async (signal) => {
        await redisPing({ ...base, host: dialled, port: ports.redis, password, signal, tls });
      }, TLS_RECHECK_MS, now);
      const { redisSocket } = local;
      return async (signal) => {
        if (redisSocket !== undefined) await redisPing({ ...base, port: ports.redis, socketPath: redisSocket, password, signal });
        await overTls(signal);
      };
    }
    case 'as':
      // The controller answers once the workers, the milter among them, are up.
      return (signal) => httpPing(host, ports.rspamd, '/ping', 'pong', timeoutMs, signal);
    case 'av':
      return async (signal) => void (await clamdPing({ ...base, port: ports.clamd, signal }));
  }
}
