/** The filtered mode's part of the delivery bench's output: what the filter costs per message on each path. */

/** The verdict of a delivered message without rspamd's `X-Spam-Status` header: rspamd did not scan it. */
export const UNSCANNED = '(none)';

/** Path → delivered messages by their `X-Spam-Status` value (or UNSCANNED). */
export type Verdicts = Map<string, Map<string, number>>;

interface Measured {
  path: string;
  r: { messages: number };
  cpu: { byComponent: Map<string, number> };
}

/** Components of the filter, as labelled in the CPU table (cpu.ts): the daemon trees, then mailfleet's agents of them. */
const ROWS: readonly [label: string, component: string][] = [
  ['rspamd (as)', 'as'],
  ['clamd (av)', 'av'],
  ['resolver (unbound)', 'dns'],
  ['mailfleet agent of as', 'agent as'],
  ['mailfleet agent of av', 'agent av'],
];

/** Rows as columns: the first left-aligned, the others right-aligned. */
export function table(rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  for (const row of rows) console.log(row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
}

/**
 * CPU per delivered message of rspamd and clamd (and the resolver, and on the full path the agents that run them)
 * on each path, then the scan verdicts of every delivered message per path: the same values on both paths say the
 * two filters scored the mail alike.
 */
export function filterReport(results: Measured[], verdicts: Verdicts): void {
  const rows = [['filter CPU', ...results.map((x) => `${x.path} ms/msg`)]];
  for (const [label, component] of ROWS) {
    if (!results.some((x) => x.cpu.byComponent.has(component))) continue;
    rows.push([label, ...results.map((x) => {
      const ms = x.cpu.byComponent.get(component);
      return ms === undefined ? '-' : (ms / x.r.messages).toFixed(2);
    })]);
  }
  table(rows);
  for (const [path, v] of verdicts) {
    const total = [...v.values()].reduce((a, b) => a + b, 0);
    const shown = [...v].sort((a, b) => b[1] - a[1]).map(([value, n]) => `${n} "${value}"`);
    console.log(`scanned on the ${path} path (X-Spam-Status of all ${total} delivered): ${shown.slice(0, 4).join(', ')}${shown.length > 4 ? `, … (${shown.length} values)` : ''}`);
  }
}
