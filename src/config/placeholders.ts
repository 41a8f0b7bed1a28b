/**
 * Values a Kubernetes ConfigMap must not hold: secrets (they live in a Secret) and facts only the pod
 * knows (its own name). The renderer writes a placeholder in their place; the agent replaces every
 * placeholder when it installs the files in the pod. The single host passes real values and never
 * sees a placeholder.
 *
 * Syntax: `{{mailfleet.secret.KEY}}` (KEY is a file name in the mounted Secret) and
 * `{{mailfleet.pod.name}}`. Neither Postfix, Dovecot, slapd nor Redis gives `{{` a meaning.
 */
import { MailfleetError } from '../errors.ts';
import { LDAP_TLS_CA_KEY, ldapCaSecretValue } from './ldap-ca.ts';
import { authPolicyRuns, authRelayRuns, backendTlsRuns, filterRuns, PLATFORM_SECRETS, platformSecrets, probeRuns, secretValue, type FilterRole, type PlatformSecretName, type PlatformSpec, type Role } from '../spec/index.ts';

const PLACEHOLDER = /\{\{mailfleet\.(secret|pod)\.([a-z0-9-]+)\}\}/g;

export function secretPlaceholder(key: string): string {
  return `{{mailfleet.secret.${key}}}`;
}

export const POD_NAME_PLACEHOLDER = '{{mailfleet.pod.name}}';

/** Keys of the platform Secret, one file each when mounted. */
export const SECRET_KEYS = Object.fromEntries(PLATFORM_SECRETS.map((s) => [s.name, s.key])) as Record<PlatformSecretName, string>;

export const seedPasswordKey = (i: number): string => `account-seed-${i}-password`;
export const generatedPasswordKey = (i: number): string => `account-generate-${i}-password`;

/**
 * Splits the secret values out of a spec: the spec keeps placeholders, the secrets come back by key.
 * Every platform secret becomes a placeholder, given or not (its value then comes from a Secret the
 * renderer does not write); `secrets` holds only values the spec gives. Everything else is untouched,
 * so generators fed the redacted spec write placeholders where the secrets go.
 */
export function redactSpec(spec: PlatformSpec): { spec: PlatformSpec; secrets: Record<string, string> } {
  const secrets: Record<string, string> = {};
  for (const s of platformSecrets(spec)) {
    const value = secretValue(spec, s.name);
    if (value !== undefined) secrets[s.key] = value;
  }
  // The LDAP clients' trust, derived from slapd's key, beside it (src/config/ldap-tls.ts).
  const ldapTlsKey = secrets[SECRET_KEYS.ldapTlsKey];
  if (ldapTlsKey !== undefined) secrets[LDAP_TLS_CA_KEY] = ldapCaSecretValue(ldapTlsKey);
  spec.accounts.seed.forEach((a, i) => (secrets[seedPasswordKey(i)] = a.password));
  spec.accounts.generate.forEach((g, i) => (secrets[generatedPasswordKey(i)] = g.password));
  const redacted: PlatformSpec = {
    ...spec,
    ldap: {
      ...spec.ldap,
      adminPassword: secretPlaceholder(SECRET_KEYS.ldapAdminPassword),
      readerPassword: secretPlaceholder(SECRET_KEYS.ldapReaderPassword),
      authPassword: secretPlaceholder(SECRET_KEYS.ldapAuthPassword),
      ...(spec.roles.ldap.replicas > 0 ? { tlsKey: secretPlaceholder(SECRET_KEYS.ldapTlsKey) } : {}),
    },
    director: {
      ...spec.director,
      apiKey: secretPlaceholder(SECRET_KEYS.doveadmApiKey),
      backendLoginPassword: secretPlaceholder(SECRET_KEYS.backendLoginPassword),
      ...(authRelayRuns(spec) ? { authRelayKey: secretPlaceholder(SECRET_KEYS.authRelayKey) } : {}),
      ...(backendTlsRuns(spec) ? { backendTlsKey: secretPlaceholder(SECRET_KEYS.backendTlsKey) } : {}),
    },
    // A prober that does not run has no account, and its password is no secret of the platform.
    ...(probeRuns(spec) ? { probe: { ...spec.probe, password: secretPlaceholder(SECRET_KEYS.probePassword) } } : {}),
    // Without a kvs there is no Redis, and its password is no secret of the platform.
    ...(spec.roles.kvs.replicas > 0 ? { redis: { ...spec.redis, password: secretPlaceholder(SECRET_KEYS.redisPassword) } } : {}),
    // Without rspamd there is no controller, and its password is no secret of the platform.
    ...(filterRuns(spec) ? { filter: { ...spec.filter, controllerPassword: secretPlaceholder(SECRET_KEYS.filterControllerPassword) } } : {}),
    alerting: { ...spec.alerting, adminKey: secretPlaceholder(SECRET_KEYS.metricsAdminKey) },
    // Without a proxy asking about logins, the auth policy has no credential or nonce.
    ...(authPolicyRuns(spec)
      ? { policy: { ...spec.policy, auth: { ...spec.policy.auth, apiKey: secretPlaceholder(SECRET_KEYS.authPolicyApiKey), hashNonce: secretPlaceholder(SECRET_KEYS.authPolicyHashNonce) } } }
      : {}),
    accounts: {
      ...spec.accounts,
      seed: spec.accounts.seed.map((a, i) => ({ ...a, password: secretPlaceholder(seedPasswordKey(i)) })),
      generate: spec.accounts.generate.map((g, i) => ({ ...g, password: secretPlaceholder(generatedPasswordKey(i)) })),
    },
  };
  return { spec: redacted, secrets };
}

/** Every key of the platform Secret: the platform secrets in use, the LDAP CA derived from one, then the demo accounts' passwords. */
export function platformSecretKeys(spec: PlatformSpec): string[] {
  return [
    ...platformSecrets(spec).map((s) => s.key),
    ...(spec.roles.ldap.replicas > 0 ? [LDAP_TLS_CA_KEY] : []),
    ...spec.accounts.seed.map((_, i) => seedPasswordKey(i)),
    ...spec.accounts.generate.map((_, i) => generatedPasswordKey(i)),
  ];
}

/** What runs in a pod: a role, an outbound pool (Postfix like an `mta`, with a config of its own), the prober or the policy server. */
export type SecretConsumer = Role | FilterRole | 'mailout' | 'fallback' | 'probe' | 'policy';

/**
 * The Secret keys a workload's pods use, and so the only ones mounted into them: what its config files
 * name (a test holds the two together) and what its agent itself needs. The Internet-facing `mta` holds
 * the password of the LDAP account Postfix binds with (it reads addresses, not password hashes), and
 * nothing else; Dovecot's account, which reads the hashes, is the proxy's and the backends'.
 */
export function podSecretKeys(workload: SecretConsumer, spec: PlatformSpec): string[] {
  const k = SECRET_KEYS;
  // An LDAP client trusts slapd by the hop's CA certificate; only slapd's pods hold the key it derives from.
  const ldapCa = spec.roles.ldap.replicas > 0 ? [LDAP_TLS_CA_KEY] : [];
  switch (workload) {
    case 'mta':
      return [k.ldapReaderPassword, ...ldapCa];
    case 'msa':
      // Its agent relays SMTP AUTH to the proxies over TLS keyed with the relay key.
      return [k.ldapReaderPassword, ...ldapCa, ...(authRelayRuns(spec) ? [k.authRelayKey] : [])];
    case 'proxy':
      // Its agent takes the msas' SMTP AUTH with the relay key; its Dovecot asks the policy server about logins with
      // the credential, and hashes tried passwords with the nonce.
      return [
        k.ldapAuthPassword, ...ldapCa, k.doveadmApiKey, k.backendLoginPassword,
        ...(authRelayRuns(spec) ? [k.authRelayKey] : []),
        // Its Dovecot trusts the backends' certificates by the CA its agent derives from this key.
        ...(backendTlsRuns(spec) ? [k.backendTlsKey] : []),
        ...(authPolicyRuns(spec) ? [k.authPolicyApiKey, k.authPolicyHashNonce] : []),
      ];
    case 'mailbox':
      // Its drain asks the directors over doveadm HTTP whether users are still routed here; the proxies log in with the backend login.
      // While rspamd runs, the learn program gives its controller the password. Its agent issues the certificate the
      // proxies' logins are checked against from the backend TLS key.
      return [
        k.ldapAuthPassword, ...ldapCa, k.doveadmApiKey, k.backendLoginPassword,
        ...(backendTlsRuns(spec) ? [k.backendTlsKey] : []),
        ...(filterRuns(spec) ? [k.filterControllerPassword] : []),
      ];
    case 'ldap':
      return [
        k.ldapAdminPassword,
        k.ldapReaderPassword,
        k.ldapAuthPassword,
        // Its agent issues slapd's certificate from the CA this derives.
        k.ldapTlsKey,
        // slapd's start makes the prober's account hold this password.
        ...(probeRuns(spec) ? [k.probePassword] : []),
        ...spec.accounts.seed.map((_, i) => seedPasswordKey(i)),
        ...spec.accounts.generate.map((_, i) => generatedPasswordKey(i)),
      ];
    case 'probe':
      return [k.probePassword];
    case 'kvs':
      // redis.conf's requirepass, and the agent's readiness check (AUTH, then PING).
      return [k.redisPassword];
    case 'policy':
      // Its Redis client authenticates, and the proxies' auth policy requests carry the credential; never the nonce.
      return [k.redisPassword, ...(authPolicyRuns(spec) ? [k.authPolicyApiKey] : [])];
    case 'as':
      // rspamd's Redis (Bayes, greylisting, history) and its controller's password.
      return [k.redisPassword, k.filterControllerPassword];
    case 'av':
      return [];
    case 'mailout':
    case 'fallback':
      return [];
  }
}

export interface PlaceholderValues {
  /** Secret value by key; undefined when the Secret has no such key. */
  secret(key: string): string | undefined;
  podName: string;
}

/** Replaces every placeholder in `text`. A placeholder with no value is an error naming it and `where`. */
export function resolvePlaceholders(text: string, values: PlaceholderValues, where: string): string {
  return text.replace(PLACEHOLDER, (whole, kind: string, key: string) => {
    const value = kind === 'secret' ? values.secret(key) : key === 'name' ? values.podName : undefined;
    if (value === undefined) {
      throw new MailfleetError('PLACEHOLDER_UNRESOLVED', `${where}: no value for ${whole}${kind === 'secret' ? ` (key ${key} missing from the mounted Secret)` : ''}`);
    }
    return value;
  });
}

/** `resolvePlaceholders` over every string of a JSON-like value (a spec read from a ConfigMap). */
export function resolveInValue<T>(value: T, values: PlaceholderValues, where: string): T {
  if (typeof value === 'string') return resolvePlaceholders(value, values, where) as T;
  if (Array.isArray(value)) return (value as unknown[]).map((v, i) => resolveInValue(v, values, `${where}[${i}]`)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveInValue(v, values, `${where}.${k}`)])) as T;
  }
  return value;
}
