import type { Account, PlatformSpec } from './types.ts';

/** Every demo account the spec asks for, seeded ones first, then generated ones. */
export function demoAccounts(spec: PlatformSpec): Account[] {
  const out: Account[] = [...spec.accounts.seed];
  for (const g of spec.accounts.generate) {
    for (let n = 1; n <= g.count; n++) out.push({ address: `${g.prefix}${n}@${g.domain}`, password: g.password, quota: g.quota });
  }
  return out;
}

/** Longest mailbox password accepted (a bound on what a hash or an IMAP literal has to carry). */
export const PASSWORD_MAX_LENGTH = 1024;

/**
 * The platform's password rule, or undefined when `password` keeps it: at least `spec.accounts.
 * passwordMinLength` characters, at most PASSWORD_MAX_LENGTH, and no control characters (POP3 and
 * IMAP could not carry CR or LF in a login).
 */
export function passwordProblem(password: string, spec: Pick<PlatformSpec, 'accounts'>): string | undefined {
  const min = spec.accounts.passwordMinLength;
  const length = [...password].length;
  if (length < min) return `at least ${min} characters (spec.accounts.passwordMinLength); this one has ${length}`;
  if (length > PASSWORD_MAX_LENGTH) return `at most ${PASSWORD_MAX_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'no control characters (tab, CR, LF, NUL, …)';
  return undefined;
}

/**
 * Time allowed per demo account at the default hash cost: about 15 ms were measured per account on a
 * 2-core machine (2,000 in 30 s, hashed two at a time); a third of that speed still fits.
 */
const SEED_MS_PER_ACCOUNT = 50;
/** memoryKiB × passes of the default Argon2id setting. */
const DEFAULT_HASH_COST = 19456 * 2;

/** Upper bound of the time slapd's first start may spend hashing the demo accounts (see SEED_MS_PER_ACCOUNT). */
export function seedingBudgetMs(spec: PlatformSpec): number {
  const count = spec.accounts.seed.length + spec.accounts.generate.reduce((n, g) => n + g.count, 0);
  const { memoryKiB, passes } = spec.accounts.passwordHash;
  return Math.ceil(count * SEED_MS_PER_ACCOUNT * ((memoryKiB * passes) / DEFAULT_HASH_COST));
}

/** `1G` → bytes; `0` → 0 (no limit). */
export function quotaBytes(quota: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(quota);
  if (!m) throw new RangeError(`not a quota: ${quota}`);
  const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  return Number(m[1]) * (units[m[2] ?? ''] ?? 1);
}
