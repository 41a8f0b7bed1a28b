import { authWorkerService, dovecotBase, dovecotLdapConf, LOGIN_SERVICE_SETTINGS, serviceBlock, type DovecotListener } from './dovecot-common.ts';
import { dovecotStatsSettings, PROXY_METRICS } from './dovecot-stats.ts';
import { backendTlsClientSettings, dovecotTlsSettings } from './dovecot-tls.ts';
import { join } from 'node:path';
import { authPolicyRuns, authPolicyTimeoutMs, authRelayRuns, requireSecret } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput, InstanceContext } from './context.ts';
import { LDAP_CA_FILE, ldapCaFile } from './ldap-tls.ts';

/** The LDAP settings of the msa's SASL logins: the users' passdb without the backend login's fields. */
export const SASL_LDAP_CONF = 'dovecot-ldap-sasl.conf.ext';
/** Dovecot auth's socket for the msas' SMTP AUTH (under base_dir), which the proxy agent's relay joins. */
export const DOVECOT_AUTH_RELAY_SOCKET = 'auth-relay';

export function authRelaySocketPath(instance: InstanceContext): string {
  return join(instance.runDir, DOVECOT_AUTH_RELAY_SOCKET);
}

/** The auth policy hop's CA, which a proxy's agent writes for its Dovecot's auth process. */
export function authPolicyCaPath(instance: InstanceContext): string {
  return join(instance.runDir, 'auth-policy-ca.pem');
}

/** The certificate a proxy's doveadm HTTP listener serves (key, then certificate; root only), which its agent issues. */
export function doveadmTlsPath(instance: InstanceContext): string {
  return join(instance.runDir, 'doveadm-tls.pem');
}

/**
 * The doveadm HTTP listener's TLS: its callers (the backend-sync controller, the operator, a draining mailbox) send
 * the API key with every request, so it serves implicit TLS 1.3 only, with a certificate from the doveadm hop's CA
 * (src/internal-tls/client-cas.ts) that its callers check. The `protocol doveadm` filter gives doveadm-server its own
 * certificate; the login services keep the public ones. A request in plain HTTP gets no answer.
 */
export function dovecotDoveadmTlsSettings(instance: InstanceContext): string[] {
  const file = doveadmTlsPath(instance);
  return ['protocol doveadm {', `  ssl_cert = <${file}`, `  ssl_key = <${file}`, '  ssl_min_protocol = TLSv1.3', '}'];
}

/**
 * Dovecot's auth policy client: before each login (and after a passdb success) it asks the policy server, and
 * reports the outcome after. What crosses the hop: the login name, the client's address, the protocol, the session
 * id and a 12-bit hash of nonce, user and password; never the password, nor the client's IMAP ID. A policy server
 * that cannot be reached or does not answer within the timeout lets the login go on (`reject_on_fail = no`).
 * None while the auth policy does not run or no policy instance is known yet.
 */
export function dovecotAuthPolicySettings(input: ConfigInput): string[] {
  const { spec, peers } = input;
  const server = peers.policy?.[0];
  if (!authPolicyRuns(spec) || server === undefined) return [];
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return [
    // HTTPS, checked against the hop's CA alone, which the agent writes (src/agent/auth-policy-ca.ts): the requests
    // carry the credential. Dovecot's auth process (not chrooted) reads the client CA file.
    `auth_policy_server_url = https://${host}:${spec.ports.authPolicy}/`,
    `ssl_client_ca_file = ${authPolicyCaPath(input.instance)}`,
    `auth_policy_server_api_header = Authorization: Bearer ${requireSecret(spec, 'authPolicyApiKey')}`,
    `auth_policy_hash_nonce = ${requireSecret(spec, 'authPolicyHashNonce')}`,
    'auth_policy_hash_mech = sha256',
    'auth_policy_hash_truncate = 12',
    `auth_policy_server_timeout_msecs = ${authPolicyTimeoutMs(spec.policy.deadlineMs)}`,
    'auth_policy_reject_on_fail = no',
    'auth_policy_request_attributes = login=%{requested_username} pwhash=%{hashed_password} remote=%{rip} protocol=%s session_id=%{session}',
  ];
}

/**
 * A `proxy` instance: Dovecot director ring member proxying IMAP and POP3 to the backend the director
 * assigns each user. LMTP on this instance is mailfleet's router (src/lmtp), which asks the director
 * through `director-userdb` and keeps its backend connections open. The backend list here only
 * bootstraps the ring; the backend-sync controller keeps it current through the doveadm HTTP API.
 */
export function dovecotProxyFiles(input: ConfigInput): ConfigFiles {
  const { spec, instance, peers } = input;
  const addr = instance.listen;
  const ring = peers.proxy.map((p) => `${p.host}:${spec.ports.director}`).join(' ');
  const backends = peers.mailbox.map((p) => p.host).join(' ');
  // PROXY protocol from the load balancer carries the client's address; trusted from its ranges only.
  const lbRanges = spec.loadBalancer.sourceRanges;
  const haproxyTrust = lbRanges.length > 0 ? [`haproxy_trusted_networks = ${lbRanges.join(' ')}`] : [];
  const balanced = (listeners: DovecotListener[]): DovecotListener[] => (lbRanges.length > 0 ? listeners : []);
  const lbPorts = spec.loadBalancer.ports;
  // Plain (STARTTLS) and implicit-TLS listeners of one protocol, and the balancer's PROXY-protocol twins.
  const loginService = (protocol: 'imap' | 'pop3'): string[] => {
    const tls = protocol === 'imap' ? 'imaps' : 'pop3s';
    return serviceBlock(`${protocol}-login`, [
      { name: protocol, address: addr, port: spec.ports[protocol] },
      { name: tls, address: addr, port: spec.ports[tls], ssl: true },
      ...balanced([
        { name: `${protocol}_lb`, address: addr, port: lbPorts[protocol], haproxy: true },
        { name: `${tls}_lb`, address: addr, port: lbPorts[tls], haproxy: true, ssl: true },
      ]),
    ], [`executable = ${protocol}-login director`, ...LOGIN_SERVICE_SETTINGS]);
  };
  const conf = [
    ...dovecotBase(input, 'imap pop3'),
    // What clients are greeted with names the host, as the MTAs' banner does, not the server and the distribution
    // ("Dovecot (Debian) ready.").
    `login_greeting = ${spec.hostname} ready.`,
    ...dovecotTlsSettings(input),
    ...backendTlsClientSettings(input),
    `director_servers = ${ring}`,
    `director_mail_servers = ${backends}`,
    'director_user_expire = 15 min',
    `doveadm_api_key = ${requireSecret(spec, 'doveadmApiKey')}`,
    ...dovecotDoveadmTlsSettings(instance),
    ...dovecotAuthPolicySettings(input),
    'passdb {',
    '  driver = ldap',
    `  args = ${instance.configDir}/dovecot-ldap.conf.ext`,
    '}',
    // The msa's SASL logins (service smtp, on the auth port) check the password without the proxy fields: Dovecot
    // hands a passdb's extra fields to the auth client on success, and the proxy passdb's are the backends'
    // master login (`master`, `pass`), which no SMTP server needs. Dovecot tries this passdb first for smtp
    // and stops at its answer, so the proxy passdb's fields are never looked up for it.
    'protocol smtp {',
    '  passdb {',
    '    driver = ldap',
    `    args = ${instance.configDir}/${SASL_LDAP_CONF}`,
    '    result_failure = return-fail',
    '    result_internalfail = return-fail',
    '  }',
    '}',
    // The proxy keeps no mail; a userdb is still needed for `director map` to list user names.
    'userdb {',
    '  driver = ldap',
    `  args = ${instance.configDir}/dovecot-ldap.conf.ext`,
    '}',
    ...serviceBlock('director', [{ name: 'ring', address: addr, port: spec.ports.director }], [
      'unix_listener login/director {',
      '  mode = 0666',
      '}',
      'fifo_listener login/proxy-notify {',
      '  mode = 0666',
      '}',
      // The LMTP router's backend lookups (root only).
      'unix_listener director-userdb {',
      '  mode = 0600',
      '}',
    ]),
    ...haproxyTrust,
    ...loginService('imap'),
    ...loginService('pop3'),
    // The backend-sync controller's calls should not wait for a doveadm-server process to start.
    ...serviceBlock('doveadm', [{ name: 'http', address: addr, port: spec.ports.doveadm, ssl: true }], ['process_min_avail = 2']),
    // The msas' SMTP AUTH arrives through the agent's relay (TLS with the relay key, src/auth-relay) on this socket,
    // which only root reaches; Dovecot auth has no TCP listener, so nothing reaches it in clear over a network.
    ...(authRelayRuns(spec) ? serviceBlock('auth', [], [`unix_listener ${DOVECOT_AUTH_RELAY_SOCKET} {`, '  mode = 0600', '}']) : []),
    ...authWorkerService(spec),
    ...dovecotStatsSettings(PROXY_METRICS),
    '',
  ];
  return {
    'dovecot.conf': conf.join('\n'),
    'dovecot-ldap.conf.ext': dovecotLdapConf(input, { proxy: true }),
    [LDAP_CA_FILE]: ldapCaFile(input.spec),
    [SASL_LDAP_CONF]: dovecotLdapConf(input, { proxy: false }),
  };
}
