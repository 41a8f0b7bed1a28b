import { join } from 'node:path';
import { backendTlsRuns } from '../spec/index.ts';
import type { ConfigInput, InstanceContext } from './context.ts';
import { defaultCertificate, servedCertificateFile, sniHosts, TLS_CIPHER_LIST } from './tls.ts';

/**
 * The proxy's TLS: STARTTLS on 143 and 110, implicit TLS on the `ssl = yes` listeners (993, 995), the
 * default certificate for clients without SNI and a `local_name` block per other host name. Plaintext
 * logins are refused until TLS (IMAP advertises LOGINDISABLED, POP3 refuses USER/PASS before STLS):
 * Dovecot counts a connection as secured only with TLS, from `login_trusted_networks` (none is set on
 * the proxy) or when its client address is the listener's own address.
 *
 * `ssl_cert` and `ssl_key` both read the agent's served file (key, then chain); OpenSSL takes the
 * certificates and the key each from their own PEM blocks. The config process reads them at start and at
 * `doveadm reload`, as root, so they stay root's only.
 */
export function dovecotTlsSettings(input: ConfigInput): string[] {
  const { spec, instance } = input;
  const fileSettings = (name: string): string[] => {
    const file = servedCertificateFile(instance, name);
    return [`ssl_cert = <${file}`, `ssl_key = <${file}`];
  };
  const defaultName = defaultCertificate(input).name;
  const others = sniHosts(input).filter((h) => h.certificate !== defaultName);
  return [
    'ssl = yes',
    ...fileSettings(defaultName),
    `ssl_min_protocol = ${spec.tls.minProtocol}`,
    `ssl_cipher_list = ${TLS_CIPHER_LIST}`,
    'ssl_prefer_server_ciphers = yes',
    'ssl_options = no_compression',
    'disable_plaintext_auth = yes',
    ...others.flatMap(({ host, certificate }) => [`local_name ${host} {`, ...fileSettings(certificate).map((l) => `  ${l}`), '}']),
  ];
}

/**
 * The files of the proxies' hop to the backends, in the run dir (the agent writes them before Dovecot starts):
 * the certificate a backend serves (key, then certificate) and the CA a proxy trusts.
 */
export function backendTlsFiles(instance: InstanceContext): { served: string; ca: string } {
  return { served: join(instance.runDir, 'backend-tls.pem'), ca: join(instance.runDir, 'backend-ca.pem') };
}

/**
 * A backend's TLS: only the proxies talk to it, and they log in after STARTTLS (TLS 1.3) with the certificate its
 * agent issues from the backend hop's CA. Without proxies nothing logs in, and TLS stays off.
 */
export function backendTlsServerSettings({ spec, instance }: ConfigInput): string[] {
  if (!backendTlsRuns(spec)) return ['ssl = no'];
  const file = backendTlsFiles(instance).served;
  return ['ssl = yes', `ssl_cert = <${file}`, `ssl_key = <${file}`, 'ssl_min_protocol = TLSv1.3', 'ssl_options = no_compression'];
}

/**
 * A proxy's trust for its logins to the backends. Dovecot's login proxy ignores `ssl_client_ca_*` (its processes
 * are chrooted and could not read them), but trusts the CA certificates given inline by `ssl_ca`, which the config
 * process reads; that CA issues no revocation lists, and `ssl_require_crl` would refuse every backend without one.
 * `ssl_ca` checks clients' certificates only with `ssl_verify_client_cert`, which stays off.
 */
export function backendTlsClientSettings({ spec, instance }: ConfigInput): string[] {
  if (!backendTlsRuns(spec)) return [];
  return [`ssl_ca = <${backendTlsFiles(instance).ca}`, 'ssl_require_crl = no'];
}
