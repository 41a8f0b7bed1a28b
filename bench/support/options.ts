/** Option values of the benches' command lines. */

/** A whole number from 1 to `max` given as `--name`, or `fallback` when absent; otherwise an error ending with `usage`. */
export function positive(name: string, value: string | undefined, fallback: number, max: number, usage: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name}: expected an integer from 1 to ${max}, got ${value}\n${usage}`);
  return n;
}
