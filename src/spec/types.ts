/** The roles the platform knows, in start order (dependencies first). */
export const ROLES = ['ldap', 'kvs', 'mailbox', 'proxy', 'mta', 'msa'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleSpec {
  /** Number of instances. */
  replicas: number;
}

export interface Ports {
  smtp: number;
  submission: number;
  imap: number;
  pop3: number;
  lmtp: number;
  ldap: number;
  redis: number;
  /** doveadm HTTP API on every `proxy` instance. */
  doveadm: number;
  /** director ring port on `proxy` instances. */
  director: number;
  /** Dovecot auth for Postfix SASL on `proxy` instances. */
  auth: number;
  /** agent health and metrics (`/livez`, `/readyz`, `/metrics`). */
  http: number;
}

export interface Account {
  address: string;
  password: string;
  /** Mailbox quota, e.g. `1G`, `500M`; `0` means no limit. */
  quota: string;
}

export interface GeneratedAccounts {
  /** How many accounts to create: `<prefix><n>@<domain>` for n = 1..count. */
  count: number;
  prefix: string;
  domain: string;
  password: string;
  quota: string;
}

export interface PlatformSpec {
  /** Mail domains served by the platform. */
  domains: string[];
  /** Hostname announced in SMTP banners and HELO. */
  hostname: string;
  /** Drain budget of every instance on stop (terminationGracePeriodSeconds is rendered larger). Default 30. */
  drainSeconds: number;
  /** A daemon whose readiness has failed this long while its process lives is hung: /livez fails. Default 30. */
  hungSeconds: number;
  roles: Record<Role, RoleSpec>;
  ports: Ports;
  /** LDAP tree root, the admin password and the read-only password Postfix and Dovecot bind with. */
  ldap: { baseDn: string; adminPassword: string; readerPassword: string };
  /**
   * Director ring: backend weight, the doveadm API key, how often the backend-sync controller re-reads
   * everything (safety net; events drive it), and how long a leaving backend may keep users.
   */
  director: { vhostCount: number; apiKey: string; resyncSeconds: number; drainTimeoutSeconds: number };
  local: { stateDir: string; addressPool: string };
  accounts: { seed: Account[]; generate: GeneratedAccounts[] };
}

export interface MailPlatform {
  apiVersion: string;
  kind: 'MailPlatform';
  metadata: { name: string };
  spec: PlatformSpec;
}
