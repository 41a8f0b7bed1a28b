import { ADDRESS_PATTERN, CIDR_PATTERN, DOMAIN_PATTERN, DOMAIN_PATTERN_LOOSE, NAME_PATTERN, QUANTITY_PATTERN, QUOTA_PATTERN } from './patterns.ts';
import { FILTER_SPEC_SCHEMA } from './filter.ts';
import { MTA_SPEC_SCHEMA } from './mta.ts';
import { POLICY_SPEC_SCHEMA } from './policy.ts';
import { MIN_SECRET_LENGTH } from './secrets.ts';
import { ROLES } from './types.ts';

const port = (defaultPort: number) => ({ type: 'integer', minimum: 1, maximum: 65535, default: defaultPort });
const role = (replicas: number, max: number) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: { replicas: { type: 'integer', minimum: 0, maximum: max, default: replicas } },
});

const outboundPool = (ipv4Cidr: string) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    replicas: { type: 'integer', minimum: 0, maximum: 16, default: 2 },
    ipv4Cidr: { type: 'string', pattern: CIDR_PATTERN, default: ipv4Cidr },
    ipv6Cidr: { type: 'string', pattern: CIDR_PATTERN },
  },
});

/** `spec.kubernetes.alertWebhookUrl`'s default: an example receiver, which `mailfleet render` names as a placeholder. */
export const EXAMPLE_ALERT_WEBHOOK_URL = 'http://alert-receiver.monitoring.svc:8080/alerts';

/** A platform secret given in the spec: long enough, and one token (it lands in config files). */
const SECRET = { type: 'string', minLength: MIN_SECRET_LENGTH, pattern: '^\\S+$' };
/** The Redis password: one token of redis.conf, where a quote starts a quoted string wherever it stands. */
const REDIS_SECRET = { type: 'string', minLength: MIN_SECRET_LENGTH, maxLength: 512, pattern: '^[^\\s"\'\\\\]+$' };

const quantity = (value: string) => ({ type: 'string', pattern: QUANTITY_PATTERN, default: value });
const resources = (cpu: string, memory: string, cpuLimit: string, memoryLimit: string) => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    requests: { type: 'object', additionalProperties: false, default: {}, properties: { cpu: quantity(cpu), memory: quantity(memory) } },
    limits: { type: 'object', additionalProperties: false, default: {}, properties: { cpu: quantity(cpuLimit), memory: quantity(memoryLimit) } },
  },
});
const storageClass = (name: string) => ({ type: 'string', pattern: NAME_PATTERN, default: name });

const HOST_LIST = { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: { type: 'string', pattern: DOMAIN_PATTERN } };

/** Certificates of the client-facing listeners; see TlsSpec. The default certificate's hosts are filled in from `spec.hostname`. */
const TLS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    certificates: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'hosts'],
        properties: {
          name: { type: 'string', pattern: NAME_PATTERN },
          hosts: HOST_LIST,
          certFile: { type: 'string', minLength: 1 },
          keyFile: { type: 'string', minLength: 1 },
          existingSecret: { type: 'string', pattern: NAME_PATTERN },
        },
      },
    },
    issuer: { enum: ['local', 'acme', 'files'], default: 'local' },
    acme: {
      type: 'object',
      additionalProperties: false,
      required: ['directory'],
      properties: {
        directory: { type: 'string', pattern: '^https://\\S+$' },
        email: { type: 'string', pattern: ADDRESS_PATTERN },
        challenge: { enum: ['http-01'], default: 'http-01' },
        http01Listen: { type: 'string', pattern: '^(\\[[0-9a-fA-F:]+\\]|[0-9.]+|[a-z0-9.-]+):[0-9]{1,5}$', default: '0.0.0.0:80' },
        caFile: { type: 'string', minLength: 1 },
      },
    },
    validityDays: { type: 'integer', minimum: 1, maximum: 825, default: 90 },
    renewAfter: { type: 'number', minimum: 0.0000001, maximum: 0.99, default: 0.67 },
    checkSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 3600 },
    keyType: { enum: ['ecdsa-p256', 'rsa-2048'], default: 'ecdsa-p256' },
    minProtocol: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
    kubernetes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        issuerRef: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string', pattern: NAME_PATTERN },
            kind: { enum: ['Issuer', 'ClusterIssuer'], default: 'ClusterIssuer' },
            group: { type: 'string', pattern: DOMAIN_PATTERN_LOOSE, default: 'cert-manager.io' },
          },
        },
        existingSecret: { type: 'string', pattern: NAME_PATTERN },
      },
    },
  },
} as const;

/** The prober; see ProbeSpec. The address defaults to `probe@<first domain>` (filled in after the schema). */
const PROBE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    enabled: { type: 'boolean', default: true },
    intervalSeconds: { type: 'integer', minimum: 5, maximum: 3600, default: 60 },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 30 },
    address: { type: 'string', pattern: ADDRESS_PATTERN },
    password: SECRET,
    caBundle: {
      type: 'object',
      additionalProperties: false,
      properties: {
        secret: { type: 'string', pattern: NAME_PATTERN },
        configMap: { type: 'string', pattern: NAME_PATTERN },
        key: { type: 'string', pattern: '^[-._a-zA-Z0-9]{1,253}$', default: 'ca.crt' },
      },
    },
  },
} as const;

/** `host:port` of a cluster exporter (a Service's DNS name, usually), or empty for none. */
const CLUSTER_TARGET = '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[0-9]{1,5}$';

/** Kubernetes-only settings; the single host ignores them. */
const KUBERNETES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    namespace: { type: 'string', pattern: NAME_PATTERN, default: 'mailfleet' },
    clusterDomain: { type: 'string', pattern: DOMAIN_PATTERN_LOOSE, default: 'cluster.local' },
    images: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        registry: { type: 'string', pattern: '^[a-z0-9.:/_-]+$', default: 'registry.mailfleet.test/mailfleet' },
        tag: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$', default: '0.1.0' },
        pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'], default: 'IfNotPresent' },
      },
    },
    rackLabel: { type: 'string', pattern: '^([a-z0-9.-]+/)?[A-Za-z0-9_.-]+$', default: 'topology.kubernetes.io/zone' },
    storageClasses: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mta: storageClass('mail-queue'),
        msa: storageClass('mail-queue'),
        mailout: storageClass('mail-queue'),
        fallback: storageClass('mail-queue'),
        mailbox: storageClass('mail-storage-rwx'),
        ldap: storageClass('mail-ldap'),
        kvs: storageClass('mail-kvs'),
        metrics: storageClass('mail-metrics'),
        logs: storageClass('mail-logs'),
        signatures: storageClass('mail-storage-rwx'),
      },
    },
    storageSizes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        queue: quantity('10Gi'),
        mail: quantity('1Ti'),
        ldap: quantity('5Gi'),
        kvs: quantity('5Gi'),
        metrics: quantity('50Gi'),
        logs: quantity('50Gi'),
        signatures: quantity('2Gi'),
      },
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mta: resources('500m', '512Mi', '2', '1Gi'),
        msa: resources('250m', '256Mi', '1', '512Mi'),
        mailout: resources('250m', '256Mi', '1', '512Mi'),
        fallback: resources('100m', '128Mi', '500m', '256Mi'),
        proxy: resources('500m', '256Mi', '2', '1Gi'),
        mailbox: resources('1', '1Gi', '4', '4Gi'),
        ldap: resources('250m', '512Mi', '1', '1Gi'),
        kvs: resources('100m', '256Mi', '500m', '512Mi'),
        // rspamd: ~266 MB PSS on a cold start while hyperscan compiles (about a core for ~10 s), ~100 MB warm.
        as: resources('250m', '384Mi', '2', '1Gi'),
        // clamd holds the whole database in memory, ~1 GiB with the official one; while SelfCheck reloads a newer
        // one (ConcurrentDatabaseReload, on) it holds the old and the new side by side, hence a limit of 2.5 times.
        av: resources('250m', '1Gi', '2', '2560Mi'),
        // freshclam tests each download by loading it (TestDatabases), about one copy of clamd's memory, a few
        // times a day.
        freshclam: resources('50m', '256Mi', '1', '1536Mi'),
        controller: resources('50m', '64Mi', '500m', '256Mi'),
        probe: resources('25m', '96Mi', '250m', '192Mi'),
        policy: resources('250m', '128Mi', '1', '256Mi'),
        victoriametrics: resources('250m', '1Gi', '2', '4Gi'),
        vmalert: resources('50m', '64Mi', '500m', '256Mi'),
        alertmanager: resources('50m', '64Mi', '250m', '256Mi'),
        loki: resources('250m', '512Mi', '2', '2Gi'),
        promtail: resources('50m', '64Mi', '250m', '256Mi'),
        nodelocaldns: resources('25m', '32Mi', '250m', '128Mi'),
        unbound: resources('100m', '256Mi', '1', '512Mi'),
      },
    },
    networkPolicies: { type: 'boolean', default: true },
    unsafeSysctls: { type: 'boolean', default: true },
    clusterMetrics: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        kubeStateMetrics: { type: 'string', pattern: CLUSTER_TARGET, default: '' },
        nodeExporter: { type: 'string', pattern: CLUSTER_TARGET, default: '' },
      },
    },
    mtaMailboxSeparation: { enum: ['preferred', 'required'], default: 'preferred' },
    scrape: { enum: ['annotations', 'VMPodScrape', 'ServiceMonitor'], default: 'annotations' },
    alertWebhookUrl: { type: 'string', pattern: '^https?://', default: EXAMPLE_ALERT_WEBHOOK_URL },
    logs: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        s3Endpoint: { type: 'string', pattern: '^https?://', default: 'http://s3.storage.svc:9000' },
        bucket: { type: 'string', pattern: '^[a-z0-9.-]{3,63}$', default: 'mailfleet-logs' },
        region: { type: 'string', minLength: 1, default: 'us-east-1' },
        credentialsSecret: { type: 'string', pattern: NAME_PATTERN, default: 'mailfleet-logs-s3' },
      },
    },
    nodeLocalDns: { type: 'boolean', default: false },
    nodeLocalDnsAddress: { type: 'string', pattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}$', default: '169.254.20.10' },
    podNetworks: { type: 'array', minItems: 1, uniqueItems: true, default: ['10.0.0.0/8'], items: { type: 'string', pattern: CIDR_PATTERN } },
    nodeNetworks: { type: 'array', minItems: 1, uniqueItems: true, default: ['10.0.0.0/8'], items: { type: 'string', pattern: CIDR_PATTERN } },
    thirdPartyImages: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        victoriametrics: { type: 'string', minLength: 1, default: 'victoriametrics/victoria-metrics:v1.102.1' },
        vmalert: { type: 'string', minLength: 1, default: 'victoriametrics/vmalert:v1.102.1' },
        alertmanager: { type: 'string', minLength: 1, default: 'prom/alertmanager:v0.27.0' },
        loki: { type: 'string', minLength: 1, default: 'grafana/loki:3.1.1' },
        promtail: { type: 'string', minLength: 1, default: 'grafana/promtail:3.1.1' },
        nodelocaldns: { type: 'string', minLength: 1, default: 'registry.k8s.io/dns/k8s-dns-node-cache:1.23.1' },
      },
    },
    existingSecret: { type: 'string', default: '', pattern: '^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)?$' },
  },
} as const;

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
        messageSizeLimit: { type: 'integer', minimum: 1_048_576, maximum: 1_073_741_824, default: 52_428_800 },
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
            as: role(2, 16),
            av: role(0, 16),
          },
        },
        ports: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            smtp: port(25),
            submission: port(587),
            submissions: port(465),
            imap: port(143),
            imaps: port(993),
            pop3: port(110),
            pop3s: port(995),
            lmtp: port(24),
            ldap: port(389),
            redis: port(6379),
            doveadm: port(8080),
            director: port(9090),
            auth: port(12345),
            http: port(8081),
            smtpHealth: port(10026),
            submissionsHealth: port(10466),
            policy: port(10040),
            authPolicy: port(10041),
            milter: port(11332),
            rspamd: port(11334),
            clamd: port(3310),
            quotaStatus: port(12340),
          },
        },
        ldap: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            baseDn: { type: 'string', pattern: '^(dc=[a-z0-9-]+)(,dc=[a-z0-9-]+)*$', default: 'dc=mailfleet,dc=test' },
            // No defaults: what the spec leaves out is generated (see secrets.ts).
            adminPassword: SECRET,
            readerPassword: SECRET,
            authPassword: SECRET,
            tlsKey: SECRET,
          },
        },
        redis: {
          type: 'object',
          additionalProperties: false,
          default: {},
          // No default: generated like the LDAP passwords (see secrets.ts).
          properties: { password: REDIS_SECRET },
        },
        director: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            vhostCount: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            apiKey: SECRET,
            backendLoginPassword: SECRET,
            authRelayKey: SECRET,
            backendTlsKey: SECRET,
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
            // No default: nothing on the single host posts to an address the user did not name.
            alertWebhookUrl: { type: 'string', pattern: '^https?://[^\\s]+$', maxLength: 2048 },
            scrapeIntervalSeconds: { type: 'integer', minimum: 1, maximum: 3600, default: 30 },
            alertTimings: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                groupWaitSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 30 },
                groupIntervalSeconds: { type: 'integer', minimum: 1, maximum: 86400, default: 300 },
                repeatIntervalSeconds: { type: 'integer', minimum: 1, maximum: 604800, default: 14400 },
              },
            },
          },
        },
        relayNetworks: { type: 'array', default: [], uniqueItems: true, items: { type: 'string', pattern: CIDR_PATTERN } },
        loadBalancer: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            sourceRanges: { type: 'array', default: [], uniqueItems: true, items: { type: 'string', pattern: CIDR_PATTERN } },
            ports: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                smtp: port(10025), submission: port(10587), submissions: port(10465), imap: port(10143), imaps: port(10993), pop3: port(10110), pop3s: port(10995),
              },
            },
          },
        },
        mta: MTA_SPEC_SCHEMA,
        outbound: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { mailout: outboundPool('198.51.100.0/28'), fallback: outboundPool('198.51.100.16/28') },
        },
        alerting: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            // Greater than 0 (a bound the CRD's structural schema can carry: it has no numeric exclusiveMinimum).
            forScale: { type: 'number', minimum: 0.000001, maximum: 1, default: 1 },
            evaluationSeconds: { type: 'integer', minimum: 1, maximum: 600, default: 30 },
            // No default: generated like the LDAP passwords (see secrets.ts). Alertmanager keeps it as a bcrypt hash, which reads 72 bytes.
            adminKey: { ...SECRET, maxLength: 72 },
            watchdogWebhookUrl: { type: 'string', pattern: '^https?://' },
          },
        },
        kubernetes: KUBERNETES_SCHEMA,
        tls: TLS_SCHEMA,
        probe: PROBE_SCHEMA,
        policy: POLICY_SPEC_SCHEMA,
        filter: FILTER_SPEC_SCHEMA,
        quota: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { checkAtRcpt: { type: 'boolean', default: true } },
        },
        accounts: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            passwordMinLength: { type: 'integer', minimum: 8, maximum: 128, default: 12 },
            passwordHash: {
              type: 'object',
              additionalProperties: false,
              default: {},
              properties: {
                scheme: { enum: ['ARGON2ID'], default: 'ARGON2ID' },
                // OWASP's first Argon2id setting: 19 MiB, 2 passes, 1 lane.
                memoryKiB: { type: 'integer', minimum: 1024, maximum: 4194304, default: 19456 },
                passes: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
              },
            },
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
