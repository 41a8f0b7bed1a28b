import { requireSecret } from '../spec/index.ts';
import { authWorkerService, BACKEND_LOGIN_USER, dovecotBase, dovecotLdapConf, LMTP_SERVICE_SETTINGS, LOGIN_SERVICE_SETTINGS, serviceBlock, VMAIL_USER } from './dovecot-common.ts';
import type { ConfigFiles, ConfigInput } from './context.ts';
import { learnFiles, learnSettings } from './dovecot-learn.ts';
import { quotaStatusPluginSettings, quotaStatusService } from './dovecot-quota-status.ts';
import { dovecotStatsSettings, MAILBOX_METRICS } from './dovecot-stats.ts';
import { backendTlsServerSettings } from './dovecot-tls.ts';
import { LDAP_CA_FILE, ldapCaFile } from './ldap-tls.ts';

/**
 * A `mailbox` backend: IMAP, POP3 and LMTP over mail storage shared by every backend.
 * Logins arrive through the `proxy` layer, which is trusted to pass the client's address.
 */
export function dovecotBackendFiles(input: ConfigInput): ConfigFiles {
  const { spec, instance } = input;
  const addr = instance.listen;
  const learn = learnSettings(input);
  const conf = [
    ...dovecotBase(input, 'imap pop3 lmtp'),
    // Clients' TLS ends at the proxy; only the proxies reach a backend, over TLS of their own.
    ...backendTlsServerSettings(input),
    'disable_plaintext_auth = no',
    // Proxied logins arrive from the proxies' addresses: loopback here, the pod network in Kubernetes.
    // Only those may pass on a client's address (and the NetworkPolicy lets only the proxies in).
    `login_trusted_networks = ${['127.0.0.0/8', ...spec.kubernetes.podNetworks].join(' ')}`,
    `mail_uid = ${VMAIL_USER}`,
    `mail_gid = ${VMAIL_USER}`,
    'first_valid_uid = 100',
    'mail_location = maildir:~/Maildir',
    'mail_fsync = always',
    'mmap_disable = yes',
    'mail_plugins = $mail_plugins quota',
    'pop3_uidl_format = %08Xu%08Xv',
    'lmtp_save_to_detail_mailbox = no',
    'recipient_delimiter = +',
    `postmaster_address = postmaster@${spec.domains[0]}`,
    `hostname = ${instance.name}`,
    // The proxies log in as the master user on the user's behalf (the user's password was verified on the
    // proxy); `pass = yes` still looks the user up in LDAP, so a deleted account cannot log in.
    'passdb {',
    '  driver = static',
    '  master = yes',
    '  pass = yes',
    `  args = user=${BACKEND_LOGIN_USER} password=${requireSecret(spec, 'backendLoginPassword')}`,
    '}',
    'passdb {',
    '  driver = ldap',
    `  args = ${instance.configDir}/dovecot-ldap.conf.ext`,
    '}',
    'userdb {',
    '  driver = ldap',
    `  args = ${instance.configDir}/dovecot-ldap.conf.ext`,
    '}',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    ...learn.namespace,
    '}',
    'plugin {',
    '  quota = maildir:User quota',
    ...quotaStatusPluginSettings(input),
    ...learn.plugin,
    '}',
    ...serviceBlock('imap-login', [{ name: 'imap', address: addr, port: spec.ports.imap }, { name: 'imaps', address: addr, port: 0 }], LOGIN_SERVICE_SETTINGS),
    ...serviceBlock('pop3-login', [{ name: 'pop3', address: addr, port: spec.ports.pop3 }, { name: 'pop3s', address: addr, port: 0 }], LOGIN_SERVICE_SETTINGS),
    ...serviceBlock('lmtp', [{ name: 'lmtp', address: addr, port: spec.ports.lmtp }], LMTP_SERVICE_SETTINGS),
    ...quotaStatusService(input),
    ...authWorkerService(spec),
    ...learn.service,
    'protocol lmtp {',
    `  mail_plugins = $mail_plugins quota${learn.lmtpPlugins}`,
    '}',
    'protocol imap {',
    `  mail_plugins = $mail_plugins imap_quota${learn.imapPlugins}`,
    '}',
    ...dovecotStatsSettings(MAILBOX_METRICS),
    '',
  ];
  return {
    'dovecot.conf': conf.join('\n'),
    'dovecot-ldap.conf.ext': dovecotLdapConf(input, { proxy: false }),
    [LDAP_CA_FILE]: ldapCaFile(input.spec),
    ...learnFiles(input),
  };
}
