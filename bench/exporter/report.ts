/** The exporter bench's output: one row per exporter, the ratios against the targets, accounting, metric parity. */
import { availableParallelism } from 'node:os';
import { unsupportedLines, type Totals } from './kinds.ts';
import type { Run } from './measure.ts';
import { total } from './metrics.ts';
import { beyondAnchorRows, parityRows, type ParityRow } from './parity.ts';

/** Targets of the issue: per core, mailfleet reads at least 3× the anchor's lines; below 100 MB; every line accounted for. */
export const TARGET_PER_CORE_RATIO = 3;
export const TARGET_PEAK_MB = 100;
/** Outside load above this share of the host's CPU gets a warning. */
const OTHER_LOAD_WARNING = 0.1;

const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '—' : Math.round(n).toLocaleString('en-US'));
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const holds = (ok: boolean) => (ok ? 'holds' : 'MISSED');

/** Prints aligned columns: `align` has one letter per column, `l` for text, `r` for numbers. */
function table(align: string, rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

const linesPerS = (r: Run) => r.lines / r.wallS;
const linesPerCore = (r: Run) => r.lines / r.cpuS;

export function printHeader(t: Totals, generatedS: number): void {
  const hostile = t.kinds.noise + t.kinds.invalid_utf8 + t.kinds.long + t.kinds.truncated;
  console.log(`exporter bench: ${int(t.lines)} Postfix log lines (${fixed(t.bytes / 1024 / 1024, 1)} MiB, seed ${t.seed}, generated in ${fixed(generatedS, 1)} s), ${availableParallelism()} CPUs`);
  console.log(`  ${int(t.lines - unsupportedLines(t))} event lines, ${int(t.kinds.other)} other well-formed lines, ${int(hostile)} hostile (${int(t.kinds.noise)} noise, ${int(t.kinds.invalid_utf8)} invalid UTF-8, ${int(t.kinds.long)} of 16 KiB–1 MiB, ${int(t.kinds.truncated)} truncated)`);
  console.log(`  formats: ${int(t.formats.maillog)} maillog_file, ${int(t.formats.syslog)} classic syslog, ${int(t.formats.rfc3339)} RFC 3339; tags outside postfix/<word>: ${int(Object.entries(t.tags).filter(([tag]) => !/^postfix\/\w+$/.test(tag)).reduce((s, [, n]) => s + n, 0))}`);
}

export function printRuns(runs: Run[]): void {
  console.log('');
  const rows = [['exporter', 'lines/s', 'seconds', 'CPU s', 'cores', 'lines/s per core', 'peak MB', 'start ms', 'lines counted']];
  for (const r of runs) {
    rows.push([r.exporter, int(linesPerS(r)), fixed(r.wallS, 2), fixed(r.cpuS, 2), fixed(r.cpuS / r.wallS, 2), int(linesPerCore(r)), fixed(r.peakMb, 1), int(r.startMs),
      `${int(r.seen)} of ${int(r.lines)}${r.seen === r.lines ? '' : ' (INCOMPLETE)'}`]);
  }
  table('lrrrrrrrl', rows);
  console.log('  seconds: first read of the appended log → /metrics counts every line; start ms: append → first read; CPU s: append → end');
  for (const r of runs) {
    if (r.otherLoad > OTHER_LOAD_WARNING) console.log(`  WARNING: ${(r.otherLoad * 100).toFixed(0)}% of the host's CPU was busy outside the bench while ${r.exporter} ran: its figures measure the neighbours too (per core suffers least)`);
  }
}

/** Accounting, peak memory and the per-core ratio, each against its target. */
export function printTargets(anchor: Run | undefined, ours: Run | undefined, t: Totals): void {
  console.log('');
  if (anchor && anchor.seen !== anchor.lines) console.log(`anchor: its counters add up to ${int(anchor.seen)} lines, not ${int(anchor.lines)}: the measurement of the anchor is off`);
  if (!ours) {
    console.log('mailfleet not measured (--only anchor): no ratio');
    return;
  }
  const seen = ours.seen;
  const unsupported = total(ours.metrics, 'mailfleet_postfix_log_lines_unsupported_total') ?? 0;
  console.log(`every line accounted for (mailfleet): ${int(seen)} counted of ${int(t.lines)} written: ${holds(seen === t.lines)}; recognised ${int(seen - unsupported)} + unsupported ${int(unsupported)} (the log holds ${int(t.lines - unsupportedLines(t))} event lines and ${int(unsupportedLines(t))} other or hostile)`);
  console.log(`peak memory: ${fixed(ours.peakMb, 1)} MB (target < ${TARGET_PEAK_MB} MB): ${holds(ours.peakMb < TARGET_PEAK_MB)}`);
  if (!anchor) return;
  const perCore = linesPerCore(ours) / linesPerCore(anchor);
  const wall = linesPerS(ours) / linesPerS(anchor);
  console.log(`mailfleet/anchor: lines/s ${fixed(wall, 2)}×, lines/s per core ${fixed(perCore, 2)}×`);
  console.log(`target: ≥ ${TARGET_PER_CORE_RATIO}× the anchor's lines/s per core: ${holds(perCore >= TARGET_PER_CORE_RATIO)} (${fixed(perCore, 2)}×); every line accounted for: ${holds(seen === t.lines)}; peak < ${TARGET_PEAK_MB} MB: ${holds(ours.peakMb < TARGET_PEAK_MB)}`);
}

export function printParity(anchor: Run, ours: Run | undefined, t: Totals): void {
  console.log('');
  console.log('metric parity: anchor family → the mailfleet family covering it; totals after the run; "log" = lines of that kind the generator wrote');
  const header = ['anchor family', 'anchor', 'mailfleet family', 'mailfleet', 'log', 'note'];
  const row = (r: ParityRow) => [r.anchor, int(r.anchorTotal), r.mailfleet, int(r.mailfleetTotal), int(r.log), r.note];
  const rows = parityRows(anchor.metrics, ours?.metrics, t);
  table('lrlrrl', [header, ...rows.map(row)]);
  const lacking = rows.filter((r) => r.mailfleet.startsWith('NO COUNTERPART') || r.mailfleet.startsWith('UNMAPPED'));
  console.log(`anchor families with no mailfleet counterpart: ${lacking.length === 0 ? 'none' : lacking.map((r) => r.anchor).join(', ')}`);
  console.log('');
  console.log('mailfleet families the anchor did not export');
  table('lrrl', [['mailfleet family', 'mailfleet', 'log', 'note'], ...beyondAnchorRows(anchor.metrics, ours?.metrics, t).map((r) => [r.mailfleet, int(r.mailfleetTotal), int(r.log), r.note])]);
}
