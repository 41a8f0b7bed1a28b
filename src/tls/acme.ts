/**
 * `issuer: acme` on the single host: orders from an ACME server (RFC 8555) with acme-client, answering HTTP-01
 * on spec.tls.acme.http01Listen. Loaded only when the spec names ACME: acme-client brings axios and node-forge.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { Client, axios as acmeAxios, crypto as acmeCrypto } from 'acme-client';
import { errorMessage, MailfleetError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { startHttp01Responder } from './http01.ts';
import { newPrivateKey, privateKeyPem } from './keys.ts';
import { parsePrivateKey } from './pem.ts';
import { issuedReason, type CertificateSource, type TlsSpec } from './sources.ts';
import { readPemFile, writePrivateKeyFile } from './store.ts';

export type AcmeSpec = NonNullable<TlsSpec['acme']>;

/** One request to the ACME server: a server that stops answering fails the attempt, which is retried later. */
const REQUEST_TIMEOUT_MS = 30_000;
/** acme-client repeats requests that failed on the network or with 5xx/429; a few quick tries, not its 75 s. */
const RETRY_ATTEMPTS = 2;
const RETRY_DELAY_SECONDS = 1;
/** Most a whole order (account, authorizations, validation, finalization, download) may take. */
export const ORDER_TIMEOUT_MS = 180_000;

/** The ACME account key: made once (ECDSA P-256, 0600), then the same account at every order. */
async function ensureAccountKey(file: string): Promise<string> {
  const existing = readPemFile(file, 'ACME account key');
  if (existing !== undefined) {
    parsePrivateKey(existing, file);
    return existing;
  }
  const pem = privateKeyPem(await newPrivateKey('ecdsa-p256'));
  writePrivateKeyFile(file, pem);
  return pem;
}

/**
 * An HTTPS agent that remembers the last socket error. acme-client's axios interceptor turns a request that got no
 * response (refused, reset, timed out) into `TypeError: Cannot read properties of undefined (reading 'config')`;
 * the log line must say what really happened.
 */
class ObservedAgent extends Agent {
  lastSocketError: Error | undefined;

  override createConnection(...args: Parameters<Agent['createConnection']>): ReturnType<Agent['createConnection']> {
    const socket = super.createConnection(...args);
    socket?.once('error', (err: Error) => {
      this.lastSocketError = err;
    });
    return socket;
  }
}

/** The reason of a failed order, with the network error acme-client lost put back. */
function failureReason(err: unknown, agent: ObservedAgent): string {
  const lost = err instanceof TypeError && /reading 'config'/.test(err.message);
  if (!lost) return errorMessage(err);
  return agent.lastSocketError ? agent.lastSocketError.message : `no answer from the ACME server within ${REQUEST_TIMEOUT_MS / 1000} s`;
}

/**
 * acme-client talks through one shared axios instance: its HTTPS agent trusts `caFile` (a private ACME server's
 * CA) or else the system's, and its timeouts and retries are bounded. Only the runtime's certificate loop uses it.
 */
function configureHttp(acme: AcmeSpec): ObservedAgent {
  const defaults = acmeAxios.defaults as typeof acmeAxios.defaults & { acmeSettings: { retryMaxAttempts: number; retryDefaultDelay: number } };
  defaults.timeout = REQUEST_TIMEOUT_MS;
  defaults.acmeSettings.retryMaxAttempts = RETRY_ATTEMPTS;
  defaults.acmeSettings.retryDefaultDelay = RETRY_DELAY_SECONDS;
  defaults.maxRedirects = 0;
  if (acme.caFile !== undefined) {
    let ca: string;
    try {
      ca = readFileSync(acme.caFile, 'utf8');
    } catch (err) {
      throw new MailfleetError('TLS_ISSUE_FAILED', `spec.tls.acme.caFile: cannot read ${acme.caFile} (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`, { cause: err });
    }
    defaults.httpsAgent = new ObservedAgent({ ca, keepAlive: false });
  } else {
    defaults.httpsAgent = new ObservedAgent({ keepAlive: false });
  }
  return defaults.httpsAgent as ObservedAgent;
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MailfleetError('TLS_ISSUE_FAILED', `${what} took longer than ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Certificates from the ACME server of spec.tls.acme, validated by HTTP-01. */
export function acmeSource(opts: { tls: TlsSpec; accountKeyFile: string; log: Logger }): CertificateSource {
  const { tls, log } = opts;
  const acme = tls.acme;
  if (acme === undefined) throw new MailfleetError('SPEC_INVALID', 'spec.tls.acme: required field is missing (spec.tls.issuer is acme)');
  return {
    issuer: 'acme',
    offline: false,
    // A stand-in from the local CA is replaced as soon as the ACME server delivers.
    reason: (want, installed, now) => (installed.fromLocalCa ? 'stand-in' : issuedReason(tls, want, installed, now)),
    async obtain(want) {
      const agent = configureHttp(acme);
      const client = new Client({ directoryUrl: acme.directory, accountKey: await ensureAccountKey(opts.accountKeyFile), backoffAttempts: 10, backoffMin: 1000, backoffMax: 10_000 });
      const keyPem = privateKeyPem(await newPrivateKey(tls.keyType));
      const [, csr] = await acmeCrypto.createCsr({ commonName: want.spec.hosts[0], altNames: [...want.spec.hosts] }, keyPem);
      const responder = await startHttp01Responder(acme.http01Listen, log);
      try {
        const cert = await withDeadline(
          client.auto({
            csr,
            ...(acme.email === undefined ? {} : { email: acme.email }),
            termsOfServiceAgreed: true,
            challengePriority: ['http-01'],
            // The server validates; our own pre-check would resolve the public names from this host, which proves nothing.
            skipChallengeVerification: true,
            challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
              if (challenge.type !== 'http-01') throw new Error(`challenge ${challenge.type} offered; only http-01 is answered here`);
              responder.add(challenge.token, keyAuthorization);
            },
            challengeRemoveFn: async (_authz, challenge) => {
              responder.remove(challenge.token);
            },
          }),
          ORDER_TIMEOUT_MS,
          `the ACME order at ${acme.directory}`,
        );
        return { cert, key: keyPem };
      } catch (err) {
        if (err instanceof MailfleetError) throw err;
        throw new MailfleetError('TLS_ISSUE_FAILED', `ACME ${acme.directory}: ${failureReason(err, agent)}`, { cause: err });
      } finally {
        await responder.close();
      }
    },
  };
}
