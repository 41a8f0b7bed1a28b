import type { Account, PlatformSpec } from './types.ts';

/** Every demo account the spec asks for, seeded ones first, then generated ones. */
export function demoAccounts(spec: PlatformSpec): Account[] {
  const out: Account[] = [...spec.accounts.seed];
  for (const g of spec.accounts.generate) {
    for (let n = 1; n <= g.count; n++) out.push({ address: `${g.prefix}${n}@${g.domain}`, password: g.password, quota: g.quota });
  }
  return out;
}

/** `1G` → bytes; `0` → 0 (no limit). */
export function quotaBytes(quota: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(quota);
  if (!m) throw new RangeError(`not a quota: ${quota}`);
  const units: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  return Number(m[1]) * (units[m[2] ?? ''] ?? 1);
}
