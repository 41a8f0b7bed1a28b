import type { ConfigInput } from './context.ts';
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
