import { readerDn } from '../config/index.ts';
import { imapCapability, lmtpLhlo, pop3Capa, redisPing, smtpEhlo, type TlsClientOptions } from '../protocol/index.ts';
import { requireSecret, type PlatformSpec, type Role } from '../spec/index.ts';

/** One protocol dialogue against the instance's own daemon; throws when it does not succeed. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

async function ldapSearch(ldapts: Promise<typeof import('ldapts')>, spec: PlatformSpec, host: string, timeoutMs: number): Promise<void> {
  const { Client } = await ldapts;
  const client = new Client({ url: `ldap://${host}:${spec.ports.ldap}`, timeout: timeoutMs, connectTimeout: timeoutMs });
  try {
    await client.bind(readerDn(spec), requireSecret(spec, 'ldapReaderPassword'));
    await client.search(`ou=domains,${spec.ldap.baseDn}`, { scope: 'one', sizeLimit: 1, attributes: ['associatedDomain'] });
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/**
 * Implicit TLS for a check of the instance's own daemon: the handshake must succeed, but the chain
 * and name are not checked. The check dials the daemon's own address, which no certificate names;
 * the agent does not hold the issuing CA in Kubernetes (cert-manager's chain may end at a public
 * root or a CA kept elsewhere); and a certificate about to expire is for the renewal, the
 * certificate metrics and `mailfleet status` to report, not a reason to take every replica out
 * of its Service at the same moment. Clients verify; this asks only whether TLS is served.
 * `node:tls` loads on the first such check, so only `msa` and `proxy` agents carry it; the one
 * options object lets every check share one secure context.
 */
const SELF_CHECK_TLS: TlsClientOptions = Object.freeze({ mode: 'implicit', rejectUnauthorized: false });

/**
 * After a success, the implicit-TLS dialogues run again only once this much time has passed; a
 * failed one runs again on every probe. A full handshake costs about 1 ms of CPU and touches
 * memory that stays resident; two per probe (every 5 s) would take the proxy's agent past its idle
 * budget (1 ms/s). The plaintext dialogues, which reach the same daemon, still run on every probe.
 */
export const TLS_RECHECK_MS = 30_000;

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

/**
 * The readiness dialogue of each role (DESIGN: readiness = the protocol dialogue succeeds).
 * `now` is the clock {@link TLS_RECHECK_MS} is measured with.
 */
export function readinessCheck(role: Role, spec: PlatformSpec, host: string, timeoutMs: number, now: () => number = Date.now): ReadinessCheck {
  const { ports } = spec;
  const base = { host, timeoutMs };
  switch (role) {
    case 'mta':
      return async (signal) => void (await smtpEhlo({ ...base, port: ports.smtp, heloName: 'readiness.mailfleet', signal }));
    case 'msa': {
      const submissions = afterSuccessEvery(async (signal) => {
        await smtpEhlo({ ...base, port: ports.submissions, heloName: 'readiness.mailfleet', signal, tls: SELF_CHECK_TLS });
      }, TLS_RECHECK_MS, now);
      return async (signal) => {
        await Promise.all([smtpEhlo({ ...base, port: ports.submission, heloName: 'readiness.mailfleet', signal }), submissions(signal)]);
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
          imapCapability({ ...base, port: ports.imaps, signal, tls: SELF_CHECK_TLS }),
          pop3Capa({ ...base, port: ports.pop3s, signal, tls: SELF_CHECK_TLS }),
        ]);
      }, TLS_RECHECK_MS, now);
      return async (signal) => {
        await Promise.all([
          lmtpLhlo({ ...base, port: ports.lmtp, heloName: 'readiness.mailfleet', signal }),
          imapCapability({ ...base, port: ports.imap, signal }),
          pop3Capa({ ...base, port: ports.pop3, signal }),
          implicitTls(signal),
        ]);
      };
    }
    case 'ldap': {
      // Only the ldap role's agent loads the LDAP client (with TLS); it starts loading with the agent.
      const ldapts = import('ldapts');
      // A failed load fails each check that awaits it, not the agent before the first check.
      ldapts.catch(() => undefined);
      return async () => ldapSearch(ldapts, spec, host, timeoutMs);
    }
    case 'kvs':
      return async (signal) => void (await redisPing({ ...base, port: ports.redis, signal }));
  }
}
