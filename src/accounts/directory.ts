import { Client, Change, Attribute, EqualityFilter } from 'ldapts';
import { accountAttributes, accountDn, hashPassword, ldapStartTlsOptions } from '../config/index.ts';
import { errorMessage, MailfleetError } from '../errors.ts';
import { passwordProblem, quotaBytes, requireSecret, type Account, type PlatformSpec } from '../spec/index.ts';

export interface AccountEntry {
  address: string;
  quotaBytes: number;
}

const ADDRESS = /^[a-z0-9._+-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Accounts in the platform's LDAP tree, written as the LDAP admin. */
export interface AccountDirectory {
  add(account: Account): Promise<void>;
  list(): Promise<AccountEntry[]>;
  remove(address: string): Promise<void>;
  setPassword(address: string, password: string): Promise<void>;
  close(): Promise<void>;
}

function ldapFailure(what: string, err: unknown): MailfleetError {
  return new MailfleetError('LDAP_FAILED', `${what}: ${errorMessage(err)}`, { cause: err });
}

/** Opens the directory at `url` (`ldap://HOST:PORT`): StartTLS to slapd, checked as the platform's clients check it, then the admin's bind. */
export async function openAccountDirectory(spec: PlatformSpec, url: string): Promise<AccountDirectory> {
  const client = new Client({ url, timeout: 10_000, connectTimeout: 5_000 });
  try {
    await client.startTLS(ldapStartTlsOptions(spec, new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')));
  } catch (err) {
    await client.unbind().catch(() => undefined);
    throw ldapFailure(`cannot start TLS with ${url}`, err);
  }
  try {
    await client.bind(`cn=admin,${spec.ldap.baseDn}`, requireSecret(spec, 'ldapAdminPassword'));
  } catch (err) {
    throw ldapFailure(`cannot bind to ${url}`, err);
  }
  const base = `ou=accounts,${spec.ldap.baseDn}`;

  function validate(account: Account): void {
    const address = account.address.toLowerCase();
    if (!ADDRESS.test(address)) throw new MailfleetError('ACCOUNT_INVALID', `${account.address}: not a mail address`);
    const weak = passwordProblem(account.password, spec);
    if (weak) throw new MailfleetError('ACCOUNT_INVALID', `password: ${weak}`);
    const domain = address.split('@')[1] ?? '';
    if (!spec.domains.includes(domain)) throw new MailfleetError('DOMAIN_UNKNOWN', `${domain} is not served by this platform (domains: ${spec.domains.join(', ')})`);
    quotaBytes(account.quota);
  }

  async function exists(address: string): Promise<boolean> {
    const { searchEntries } = await client.search(base, { scope: 'one', filter: new EqualityFilter({ attribute: 'mail', value: address }), attributes: ['mail'] });
    return searchEntries.length > 0;
  }

  return {
    async add(account) {
      validate(account);
      const address = account.address.toLowerCase();
      if (await exists(address)) throw new MailfleetError('ACCOUNT_EXISTS', `${address} already exists`);
      const stored = await hashPassword(account.password, spec.accounts.passwordHash);
      try {
        await client.add(accountDn(spec, address), accountAttributes({ ...account, address }, stored));
      } catch (err) {
        throw ldapFailure(`cannot add ${address}`, err);
      }
    },
    async list() {
      const { searchEntries } = await client.search(base, { scope: 'one', filter: '(objectClass=mailfleetAccount)', attributes: ['mail', 'mailQuotaBytes'], paged: true });
      return searchEntries
        .map((e) => ({ address: String(e.mail), quotaBytes: Number(e.mailQuotaBytes ?? 0) }))
        .sort((a, b) => a.address.localeCompare(b.address));
    },
    async remove(address) {
      const lower = address.toLowerCase();
      if (!(await exists(lower))) throw new MailfleetError('ACCOUNT_NOT_FOUND', `${lower} does not exist`);
      try {
        await client.del(accountDn(spec, lower));
      } catch (err) {
        throw ldapFailure(`cannot remove ${lower}`, err);
      }
    },
    async setPassword(address, password) {
      const lower = address.toLowerCase();
      const weak = passwordProblem(password, spec);
      if (weak) throw new MailfleetError('ACCOUNT_INVALID', `password: ${weak}`);
      if (!(await exists(lower))) throw new MailfleetError('ACCOUNT_NOT_FOUND', `${lower} does not exist`);
      const stored = await hashPassword(password, spec.accounts.passwordHash);
      await client.modify(accountDn(spec, lower), new Change({ operation: 'replace', modification: new Attribute({ type: 'userPassword', values: [stored] }) }));
    },
    close: () => client.unbind().catch(() => undefined),
  };
}
