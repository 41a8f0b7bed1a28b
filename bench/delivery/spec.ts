/** The one platform spec both paths of the delivery bench are built from. */
import { demoAccounts, parseSpec, type MailPlatform } from '../../src/spec/index.ts';

export const BENCH_DOMAIN = 'bench.test';
/** The full platform allocates from this pool; the bare path uses the next /16 (see bare.ts). */
export const BENCH_ADDRESS_POOL = '127.90.0.0/16';
/** The filtered mode's pool for the full platform; its bare path and both resolvers use the next /16 (filtered.ts). */
export const FILTERED_ADDRESS_POOL = '127.130.0.0/16';

/** Recipients per minute the bench's policy rule allows one client network: far above what one mta delivers. */
const POLICY_LIMIT_PER_MINUTE = 1_000_000;

/** The filtered mode's settings of the full platform (see filtered.ts). */
export interface BenchFilter {
  /** clamd's signatures: a directory the bench fills. */
  signatures: string;
  /** rspamd's resolver, `address:port`. */
  nameserver: string;
}

export interface BenchSpec {
  /** YAML handed to `mailfleet up -f`. */
  text: string;
  platform: MailPlatform;
  /** Recipient addresses, `user1@bench.test` … */
  recipients: string[];
}

/**
 * A platform of 3 mailbox backends, 1 proxy, 1 mta (plus ldap, kvs, msa) with `recipients` generated accounts.
 * The full path includes flow control: the mta asks the policy server at every RCPT, which counts in Redis under
 * the default rule's shape (recipients per client /24) with a limit no bench run reaches, so every request is
 * judged and none deferred (the bench sends everything from one address).
 *
 * With `filter`, the platform filters too: one `as` (rspamd, the mta's milter) and one `av` (clamd) with
 * rspamd's defaults but for what the bench needs: greylisting off (every message would be deferred), no public
 * lists and the bench's resolver (nothing leaves loopback), and fail closed (a filter that cannot be asked defers
 * the mail instead of passing it unscanned, which would measure nothing). Addresses from FILTERED_ADDRESS_POOL.
 *
 * The mta also checks each recipient's mailbox quota at RCPT (`spec.quota.checkAtRcpt`, on by default): a policy
 * request to the proxy's quota relay, which asks the director for the backend and its quota-status service.
 * `quotaCheck` false turns it off, to show what it costs.
 */
export function benchSpec(recipients: number, filter?: BenchFilter, quotaCheck = true): BenchSpec {
  const text = [
    'apiVersion: mailfleet.io/v1alpha1',
    'kind: MailPlatform',
    'metadata:',
    '  name: bench',
    'spec:',
    `  domains: [${BENCH_DOMAIN}]`,
    `  hostname: mail.${BENCH_DOMAIN}`,
    '  roles:',
    '    ldap: { replicas: 1 }',
    '    kvs: { replicas: 1 }',
    '    mailbox: { replicas: 3 }',
    '    proxy: { replicas: 1 }',
    '    mta: { replicas: 1 }',
    '    msa: { replicas: 1 }',
    // Unfiltered: rspamd would add its own scan to every message (and look things up on the Internet).
    ...(filter ? ['    as: { replicas: 1 }', '    av: { replicas: 1 }'] : ['    as: { replicas: 0 }']),
    ...(filter
      ? [
          '  filter:',
          '    failure: closed',
          '    greylisting: { enabled: false }',
          '    publicLists: false',
          `    nameservers: ["${filter.nameserver}"]`,
          `    antivirus: { signatures: { directory: ${JSON.stringify(filter.signatures)} } }`,
        ]
      : []),
    '  policy:',
    '    rules:',
    '      - name: mx-recipients-per-network',
    '        contexts: [mta]',
    '        key: client_address',
    '        count: recipients',
    '        ipv4Prefix: 24',
    '        windows:',
    `          - { limit: ${POLICY_LIMIT_PER_MINUTE}, seconds: 60 }`,
    ...(quotaCheck ? [] : ['  quota: { checkAtRcpt: false }']),
    '  local:',
    `    addressPool: ${filter ? FILTERED_ADDRESS_POOL : BENCH_ADDRESS_POOL}`,
    '  accounts:',
    '    generate:',
    `      - { count: ${recipients}, prefix: user, domain: ${BENCH_DOMAIN}, password: bench-password }`,
    '',
  ].join('\n');
  const platform = parseSpec(text, 'bench spec');
  return { text, platform, recipients: demoAccounts(platform.spec).map((a) => a.address) };
}
