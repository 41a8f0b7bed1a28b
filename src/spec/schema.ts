import { ROLES } from './types.ts';

const port = (defaultPort: number) => ({ type: 'integer', minimum: 1, maximum: 65535, default: defaultPort });
const role = (replicas: number, max: number) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: { replicas: { type: 'integer', minimum: 0, maximum: max, default: replicas } },
});
const DOMAIN_PATTERN = '^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$';
const QUOTA_PATTERN = '^(0|[1-9][0-9]*[KMGT]?)$';
const ADDRESS_PATTERN = '^[a-z0-9._+-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$';

/** JSON Schema (draft 2020-12 subset understood by ajv) of a mailfleet spec, with defaults. */
export const PLATFORM_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'mailfleet.io/v1alpha1' },
    kind: { const: 'MailPlatform' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' } },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['domains'],
      properties: {
        domains: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: DOMAIN_PATTERN } },
        hostname: { type: 'string', pattern: DOMAIN_PATTERN, default: 'mail.mailfleet.test' },
        drainSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
        hungSeconds: { type: 'integer', minimum: 2, maximum: 3600, default: 30 },
        roles: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            ldap: role(1, 1),
            kvs: role(1, 1),
            mailbox: role(3, 64),
            proxy: role(1, 8),
            mta: role(1, 16),
            msa: role(1, 16),
          },
        },
        ports: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            smtp: port(25),
            submission: port(587),
            imap: port(143),
            pop3: port(110),
            lmtp: port(24),
            ldap: port(389),
            redis: port(6379),
            doveadm: port(8080),
            director: port(9090),
            auth: port(12345),
            http: port(8081),
          },
        },
        ldap: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            baseDn: { type: 'string', pattern: '^(dc=[a-z0-9-]+)(,dc=[a-z0-9-]+)*$', default: 'dc=mailfleet,dc=test' },
            adminPassword: { type: 'string', minLength: 8, default: 'change-me-ldap-admin' },
            readerPassword: { type: 'string', minLength: 8, default: 'change-me-ldap-reader' },
          },
        },
        director: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            vhostCount: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            apiKey: { type: 'string', minLength: 16, default: 'change-me-doveadm-api-key' },
            resyncSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
            drainTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 60 },
          },
        },
        local: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            stateDir: { type: 'string', minLength: 1, default: '/var/lib/mailfleet' },
            addressPool: {
              type: 'string',
              pattern: '^127\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.0\\.0/16$',
              default: '127.77.0.0/16',
            },
          },
        },
        accounts: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            seed: {
              type: 'array',
              default: [],
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['address', 'password'],
                properties: {
                  address: { type: 'string', pattern: ADDRESS_PATTERN },
                  password: { type: 'string', minLength: 4 },
                  quota: { type: 'string', pattern: QUOTA_PATTERN, default: '1G' },
                },
              },
            },
            generate: {
              type: 'array',
              default: [],
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['count', 'domain', 'password'],
                properties: {
                  count: { type: 'integer', minimum: 1, maximum: 100000 },
                  prefix: { type: 'string', pattern: '^[a-z0-9._-]{1,40}$', default: 'user' },
                  domain: { type: 'string', pattern: DOMAIN_PATTERN },
                  password: { type: 'string', minLength: 4 },
                  quota: { type: 'string', pattern: QUOTA_PATTERN, default: '1G' },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const ROLE_NAMES: readonly string[] = ROLES;
