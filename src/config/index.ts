import { MailfleetError } from '../errors.ts';
import type { AgentRole } from '../spec/index.ts';
import { clamdFiles } from './clamd.ts';
import type { ConfigFiles, ConfigInput, FilterConfigInput } from './context.ts';
import { dovecotBackendFiles } from './dovecot-backend.ts';
import { dovecotProxyFiles } from './dovecot-proxy.ts';
import { postfixMsaFiles, postfixMtaFiles } from './postfix.ts';
import { redisFiles } from './redis.ts';
export { redisSocketPath, redisTlsPath } from './redis.ts';
import { rspamdFiles } from './rspamd.ts';

export type { ConfigFiles, ConfigInput, FilterConfigInput, FilterInstanceContext, InstanceContext, Peer, Peers } from './context.ts';
export { authDn, certificateFiles, readerDn } from './context.ts';
export { configYaml } from './config-yaml.ts';
export { VMAIL_USER } from './dovecot-common.ts';
export { LEARN_CLI_TOKEN, LEARN_DIR, LEARN_FILES, LEARN_PROGRAM, LEARN_SCRIPTS } from './dovecot-learn.ts';
export { dovecotStatsSocket, MAILBOX_METRICS, PROXY_METRICS, type DovecotMetric } from './dovecot-stats.ts';
export { authPolicyCaPath, authRelaySocketPath, doveadmTlsPath, dovecotAuthPolicySettings } from './dovecot-proxy.ts';
export { backendTlsFiles } from './dovecot-tls.ts';
export { LDAP_CA_FILE, LDAP_TLS_CA_KEY, ldapCa, ldapCaFile, ldapCaPath, ldapCaSecretValue, ldapServedPath, ldapStartTlsOptions } from './ldap-tls.ts';
export { AUTH_RELAY_TARGET_FILE, authRelayListenHost, parseAuthRelayTarget } from './postfix-sasl.ts';
export { POSTFIX_LOG_QUEUE_MIN, postfixHealthHost, postfixOutboundFiles, postfixProxyServices, type PostfixProxyService } from './postfix.ts';
export { POLICY_RULES_FILE, policyRulesFile } from './policy-rules.ts';
export { QUOTA_RELAY_DEADLINE_MS } from './postfix-quota.ts';
export { QUOTA_OVER_REPLY } from './dovecot-quota-status.ts';
export { MILTER_COMMAND_TIMEOUT_S, MILTER_CONNECT_TIMEOUT_S, postfixMilterSettings } from './postfix-milter.ts';
export { RSPAMD, RSPAMD_CONF, RSPAMD_LOCAL_D, RSPAMD_REDIS_DB, RSPAMD_TASK_TIMEOUT_S, redisRelaySocketPath, rspamdArguments, rspamdFiles, rspamdVariables } from './rspamd.ts';
export { PUBLIC_LIST_MODULES, RSPAMD_OVERRIDE_PREFIX, VIRUS_SYMBOL } from './rspamd-modules.ts';
export { CLAMAV_USER, CLAMD, CLAMD_CONF, CLAMD_MAX_THREADS, CLAMD_SELF_CHECK_S, clamdFiles, clamdStreamLimit, FRESHCLAM, FRESHCLAM_CONF, freshclamFiles, SIGNATURE_FILE_PATTERN } from './clamd.ts';
export { POSTFIX_SNI_MAP } from './postfix-tls.ts';
export { servedCertificateFile, servedCertificatesDir, servesTls, TLS_CIPHER_LIST, TLS_ROLES } from './tls.ts';
export { ARGON2_PARALLELISM, hashPassword, hashPasswords, ssha, type PasswordHashing } from './password.ts';
export {
  platformSecretKeys, podSecretKeys, POD_NAME_PLACEHOLDER, redactSpec, resolveInValue, resolvePlaceholders, SECRET_KEYS, secretPlaceholder,
  type PlaceholderValues, type SecretConsumer,
} from './placeholders.ts';
export { accessRules, accountAttributes, accountChangeLdif, accountDn, accountLdif, domainDn, PROBE_ACCOUNT_QUOTA, probeAccount, ldapTreeLdif, serviceAccountsChangeLdif, slapdConfigLdif, type ServiceAccountHashes } from './slapd.ts';

/**
 * The input of a filter role's generators: the DKIM directory of the instance (`as`), and the signature directory
 * the spec names or else the instance's (`av`, where the updater writes).
 */
export function filterConfigInput(input: ConfigInput): FilterConfigInput {
  const { instance, spec } = input;
  if (instance.role !== 'as' && instance.role !== 'av') throw new MailfleetError('CONFIG_UNRENDERABLE', `${instance.name}: not a filter role`);
  const signaturesDir = spec.filter.antivirus.signatures?.directory ?? instance.signaturesDir;
  return {
    spec,
    peers: input.peers,
    instance: { ...instance, role: instance.role },
    dkimDir: instance.dkimDir ?? `${instance.configDir}/dkim`,
    ...(signaturesDir === undefined ? {} : { signaturesDir }),
  };
}

/**
 * The application config files of one instance. `ldap` is absent: slapd's config is loaded offline
 * (see `slapdConfigLdif`), because cn=config is a database, not a file.
 */
export function roleConfigFiles(role: AgentRole, input: ConfigInput): ConfigFiles {
  switch (role) {
    case 'mta':
      return postfixMtaFiles(input);
    case 'msa':
      return postfixMsaFiles(input);
    case 'mailbox':
      return dovecotBackendFiles(input);
    case 'proxy':
      return dovecotProxyFiles(input);
    case 'kvs':
      return redisFiles(input);
    case 'ldap':
      return {};
    case 'as':
      return rspamdFiles(filterConfigInput(input));
    case 'av':
      return clamdFiles(filterConfigInput(input));
  }
}

export { UNBOUND_CONF, UNBOUND_INCOMING_TCP_PER_THREAD, UNBOUND_OUTGOING_TCP_PER_THREAD, UNBOUND_SERVE_EXPIRED_TTL_S, UNBOUND_TCP_IDLE_TIMEOUT_MS, unboundFiles, type UnboundOptions } from './unbound.ts';
export {
  CLUSTER_DNS_PILLAR,
  NODE_LOCAL_DNS_COREFILE,
  NODE_LOCAL_DNS_HEALTH_PORT,
  NODE_LOCAL_DNS_METRICS_PORT,
  NODE_LOCAL_DNS_TCP_EXPIRE_S,
  nodeLocalDnsCorefile,
  type NodeLocalDnsOptions,
} from './node-local-dns.ts';
export {
  DEFAULT_SCRAPE_INTERVAL_S, hostPort, KUBERNETES_SCRAPE_JOB, SCRAPE_CONFIG_FILE, scrapeConfig, scrapeTargetsFile, type FileScrapeJob, type ScrapeMode, type ScrapeOptions,
  type ScrapeTargetGroup, type StaticScrapeJob,
} from './victoriametrics.ts';
export {
  ALERT_GROUP_BY, ALERT_WEBHOOK_RECEIVER, WATCHDOG_RECEIVER, ALERTMANAGER_CONFIG_FILE, ALERTMANAGER_USER, ALERTMANAGER_WEB_CONFIG_FILE, alertmanagerConfig, alertmanagerWebConfig,
  type AlertmanagerOptions, type AlertTimings,
} from './alertmanager.ts';
export { VMALERT_NOTIFIER_FILE, vmalertNotifierConfig } from './vmalert.ts';
export { adminKeyEnvironment, ENV_FLAGS_FLAG, envFlagName, VICTORIAMETRICS_ADMIN_FLAGS, VMALERT_ADMIN_FLAGS } from './metrics-admin.ts';
export {
  DEFAULT_LOG_RETENTION_DAYS,
  LOKI_CONFIG_FILE,
  LOKI_DATA_DIR,
  LOKI_EXPAND_ENV_FLAG,
  LOKI_GRPC_PORT,
  LOKI_HTTP_PORT,
  LOKI_LOOPBACK_HTTP_PORT,
  LOKI_S3_ENV,
  LOKI_S3_SECRET_KEYS,
  LOKI_SCHEMA_FROM,
  lokiConfig,
  type LokiOptions,
} from './loki.ts';
export {
  DEFAULT_LOKI_SERVICE,
  POD_LOG_DIR,
  PROMTAIL_CONFIG_FILE,
  PROMTAIL_HTTP_PORT,
  PROMTAIL_JOB,
  PROMTAIL_NODE_ENV,
  PROMTAIL_POSITIONS_FILE,
  promtailConfig,
  type PromtailOptions,
} from './promtail.ts';
