/**
 * A Kubernetes resource quantity (`1Gi`, `512Mi`, `1.5G`, `64000k`, `100m`) as a number of units, the way
 * the API server reads it: binary suffixes are powers of 1024, decimal ones powers of 1000, `m` a thousandth.
 * The spec's schema has already checked the form (QUANTITY_PATTERN).
 */
const SUFFIX: Readonly<Record<string, number>> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4,
};

export function quantityValue(quantity: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new RangeError(`not a resource quantity: ${quantity}`);
  return Number(m[1]) * (SUFFIX[m[2] ?? ''] ?? 1);
}
