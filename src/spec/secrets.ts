/**
 * The platform's own secrets: the LDAP admin and service-account passwords and TLS key, the doveadm API key, the proxies'
 * backend login, the msas' SMTP AUTH relay key, the Redis password, rspamd's controller password, the metrics admin
 * key and the auth policy's credential and hash nonce. A
 * spec may give them; none has a default. Where the spec gives none they are generated strong on first
 * start (single host: once, kept in the state directory) or held in a Kubernetes Secret (one the
 * operator creates, or `spec.kubernetes.existingSecret`). Values everybody knows are refused.
 */
import { randomBytes } from 'node:crypto';
import { MailfleetError } from '../errors.ts';
import { filterRuns } from './filter.ts';
import { authPolicyRuns } from './policy.ts';
import { probeRuns } from './probe.ts';
import type { PlatformSpec } from './types.ts';

export type PlatformSecretName = 'ldapAdminPassword' | 'ldapReaderPassword' | 'ldapAuthPassword' | 'ldapTlsKey' | 'doveadmApiKey' | 'backendLoginPassword' | 'probePassword' | 'redisPassword'
  | 'filterControllerPassword' | 'metricsAdminKey' | 'authPolicyApiKey' | 'authPolicyHashNonce' | 'authRelayKey' | 'backendTlsKey';

export interface PlatformSecret {
  name: PlatformSecretName;
  /** The spec field, as errors name it. */
  field: string;
  /** Its key in the platform Secret (a file name when mounted). */
  key: string;
  /** Whether the platform uses it; absent: always. A secret not in use is neither generated nor required. */
  inUse?: (spec: PlatformSpec) => boolean;
}

export const PLATFORM_SECRETS: readonly PlatformSecret[] = [
  { name: 'ldapAdminPassword', field: 'spec.ldap.adminPassword', key: 'ldap-admin-password' },
  { name: 'ldapReaderPassword', field: 'spec.ldap.readerPassword', key: 'ldap-reader-password' },
  { name: 'ldapAuthPassword', field: 'spec.ldap.authPassword', key: 'ldap-auth-password' },
  // Binds to LDAP go over TLS: slapd issues its certificate from the CA this derives (src/config/ldap-tls.ts); the
  // clients trust that CA's certificate, which the platform Secret holds beside it (`ldap-tls-ca`), never the key.
  { name: 'ldapTlsKey', field: 'spec.ldap.tlsKey', key: 'ldap-tls-key', inUse: (spec) => spec.roles.ldap.replicas > 0 },
  { name: 'doveadmApiKey', field: 'spec.director.apiKey', key: 'doveadm-api-key' },
  { name: 'backendLoginPassword', field: 'spec.director.backendLoginPassword', key: 'backend-login-password' },
  // The TLS-PSK key of the msas' SMTP AUTH hop to the proxies' Dovecot auth (src/auth-relay), while both run.
  { name: 'authRelayKey', field: 'spec.director.authRelayKey', key: 'auth-relay-key', inUse: authRelayRuns },
  // The proxies' logins to the backends go over TLS: backends issue their certificate from the CA this derives
  // (src/internal-tls/ca.ts), proxies trust that CA alone.
  { name: 'backendTlsKey', field: 'spec.director.backendTlsKey', key: 'backend-tls-key', inUse: backendTlsRuns },
  // The prober's mailbox account: LDAP holds its hash, the prober logs in with it.
  { name: 'probePassword', field: 'spec.probe.password', key: 'probe-password', inUse: probeRuns },
  // Redis (kvs) `requirepass`: every client of the platform's Redis authenticates with it.
  { name: 'redisPassword', field: 'spec.redis.password', key: 'redis-password', inUse: (spec) => spec.roles.kvs.replicas > 0 },
  // rspamd's controller (statistics, metrics, learning from the mailbox backends), while rspamd runs.
  { name: 'filterControllerPassword', field: 'spec.filter.controllerPassword', key: 'rspamd-controller-password', inUse: filterRuns },
  // VictoriaMetrics' and vmalert's admin endpoints (deletes, snapshots, reloads, /flags, pprof).
  { name: 'metricsAdminKey', field: 'spec.alerting.adminKey', key: 'metrics-admin-key' },
  // Dovecot's auth policy: the credential the proxies send the policy server, and the nonce of the password hashes they send.
  { name: 'authPolicyApiKey', field: 'spec.policy.auth.apiKey', key: 'auth-policy-api-key', inUse: authPolicyRuns },
  { name: 'authPolicyHashNonce', field: 'spec.policy.auth.hashNonce', key: 'auth-policy-hash-nonce', inUse: authPolicyRuns },
];

/** Whether msas relay SMTP AUTH to proxies (src/auth-relay): both roles run. */
export function authRelayRuns(spec: Pick<PlatformSpec, 'roles'>): boolean {
  return spec.roles.msa.replicas > 0 && spec.roles.proxy.replicas > 0;
}

/** Whether proxies log in to mailbox backends (src/internal-tls/ca.ts keys that hop): both roles run. */
export function backendTlsRuns(spec: Pick<PlatformSpec, 'roles'>): boolean {
  return spec.roles.proxy.replicas > 0 && spec.roles.mailbox.replicas > 0;
}

/** The platform secrets `spec` uses. */
export function platformSecrets(spec: PlatformSpec): PlatformSecret[] {
  return PLATFORM_SECRETS.filter((s) => s.inUse?.(spec) ?? true);
}

export { MIN_SECRET_LENGTH } from './patterns.ts';
const GENERATED_SECRET_BYTES = 32;

/**
 * Values that were schema defaults or printed in the project's example and documentation: anyone can
 * look them up, so a spec holding one is refused.
 */
export const KNOWN_SECRETS: ReadonlySet<string> = new Set([
  'change-me-ldap-admin',
  'change-me-ldap-reader',
  'change-me-doveadm-api-key',
  'demo-ldap-admin-pw',
  'demo-doveadm-api-key-0123',
]);

export type PlatformSecretValues = Partial<Record<PlatformSecretName, string>>;

export function secretValue(spec: PlatformSpec, name: PlatformSecretName): string | undefined {
  switch (name) {
    case 'ldapAdminPassword':
      return spec.ldap.adminPassword;
    case 'ldapReaderPassword':
      return spec.ldap.readerPassword;
    case 'ldapAuthPassword':
      return spec.ldap.authPassword;
    case 'ldapTlsKey':
      return spec.ldap.tlsKey;
    case 'doveadmApiKey':
      return spec.director.apiKey;
    case 'backendLoginPassword':
      return spec.director.backendLoginPassword;
    case 'authRelayKey':
      return spec.director.authRelayKey;
    case 'backendTlsKey':
      return spec.director.backendTlsKey;
    case 'probePassword':
      return spec.probe.password;
    case 'redisPassword':
      return spec.redis.password;
    case 'filterControllerPassword':
      return spec.filter.controllerPassword;
    case 'metricsAdminKey':
      return spec.alerting.adminKey;
    case 'authPolicyApiKey':
      return spec.policy.auth.apiKey;
    case 'authPolicyHashNonce':
      return spec.policy.auth.hashNonce;
  }
}

/** The secret's value; a spec without it (not yet generated or resolved) is a programming error named by field. */
export function requireSecret(spec: PlatformSpec, name: PlatformSecretName): string {
  const value = secretValue(spec, name);
  if (value === undefined) {
    const field = PLATFORM_SECRETS.find((s) => s.name === name)?.field ?? name;
    throw new MailfleetError('SECRET_MISSING', `${field}: no value (neither in the spec nor generated)`);
  }
  return value;
}

/** The secrets the spec uses and does not give. */
export function missingSecrets(spec: PlatformSpec): PlatformSecret[] {
  return platformSecrets(spec).filter((s) => secretValue(spec, s.name) === undefined);
}

/** A copy of the spec with `values` filled in where the spec has none; the spec's own values win. */
export function withSecrets(spec: PlatformSpec, values: PlatformSecretValues): PlatformSpec {
  const pick = (name: PlatformSecretName) => secretValue(spec, name) ?? values[name];
  const admin = pick('ldapAdminPassword');
  const reader = pick('ldapReaderPassword');
  const auth = pick('ldapAuthPassword');
  const ldapTlsKey = pick('ldapTlsKey');
  const apiKey = pick('doveadmApiKey');
  const backendLogin = pick('backendLoginPassword');
  const authRelayKey = pick('authRelayKey');
  const backendTlsKey = pick('backendTlsKey');
  const probePassword = pick('probePassword');
  const redisPassword = pick('redisPassword');
  const controllerPassword = pick('filterControllerPassword');
  const metricsAdminKey = pick('metricsAdminKey');
  const authApiKey = pick('authPolicyApiKey');
  const authHashNonce = pick('authPolicyHashNonce');
  return {
    ...spec,
    ldap: {
      ...spec.ldap,
      ...(admin === undefined ? {} : { adminPassword: admin }),
      ...(reader === undefined ? {} : { readerPassword: reader }),
      ...(auth === undefined ? {} : { authPassword: auth }),
      ...(ldapTlsKey === undefined ? {} : { tlsKey: ldapTlsKey }),
    },
    director: {
      ...spec.director,
      ...(apiKey === undefined ? {} : { apiKey }),
      ...(backendLogin === undefined ? {} : { backendLoginPassword: backendLogin }),
      ...(authRelayKey === undefined ? {} : { authRelayKey }),
      ...(backendTlsKey === undefined ? {} : { backendTlsKey }),
    },
    probe: { ...spec.probe, ...(probePassword === undefined ? {} : { password: probePassword }) },
    redis: { ...spec.redis, ...(redisPassword === undefined ? {} : { password: redisPassword }) },
    filter: { ...spec.filter, ...(controllerPassword === undefined ? {} : { controllerPassword }) },
    alerting: { ...spec.alerting, ...(metricsAdminKey === undefined ? {} : { adminKey: metricsAdminKey }) },
    policy: {
      ...spec.policy,
      auth: { ...spec.policy.auth, ...(authApiKey === undefined ? {} : { apiKey: authApiKey }), ...(authHashNonce === undefined ? {} : { hashNonce: authHashNonce }) },
    },
  };
}

/** A fresh strong secret: 32 random bytes, base64url (no character any config file gives a meaning). */
export function generateSecret(): string {
  return randomBytes(GENERATED_SECRET_BYTES).toString('base64url');
}

/** Spec problems of the secrets it gives: well-known values (length and characters are the schema's). */
export function secretProblems(spec: PlatformSpec): string[] {
  const out: string[] = [];
  for (const s of PLATFORM_SECRETS) {
    const value = secretValue(spec, s.name);
    if (value !== undefined && KNOWN_SECRETS.has(value)) {
      out.push(`${s.field}: a well-known value, refused; leave it out to have a strong one generated, or give a secret of your own`);
    }
  }
  return out;
}
