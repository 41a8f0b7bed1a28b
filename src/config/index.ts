import type { Role } from '../spec/index.ts';
import type { ConfigFiles, ConfigInput } from './context.ts';
import { dovecotBackendFiles } from './dovecot-backend.ts';
import { dovecotProxyFiles } from './dovecot-proxy.ts';
import { postfixMsaFiles, postfixMtaFiles } from './postfix.ts';
import { redisFiles } from './redis.ts';

export type { ConfigFiles, ConfigInput, InstanceContext, Peer, Peers } from './context.ts';
export { readerDn } from './context.ts';
export { VMAIL_USER } from './dovecot-common.ts';
export { ssha, ssha512 } from './password.ts';
export { accountAttributes, accountDn, accountLdif, domainDn, ldapTreeLdif, slapdConfigLdif } from './slapd.ts';

/**
 * The application config files of one instance. `ldap` is absent: slapd's config is loaded offline
 * (see `slapdConfigLdif`), because cn=config is a database, not a file.
 */
export function roleConfigFiles(role: Role, input: ConfigInput): ConfigFiles {
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
  }
}
