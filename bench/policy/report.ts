/**
 * The policy bench's output: a table per connection count, the no-op ceiling and the share of it each server
 * reaches, mailfleet against the faster anchor, the p99 and memory targets, and a summary of the targets.
 */
import { availableParallelism } from 'node:os';
import type { RunResult } from './run.ts';
import { ANCHORS, type ServerName } from './servers.ts';

/** The issue's targets for mailfleet against the faster anchor, by connection count. */
export const TARGET_RATIO: Readonly<Record<number, number>> = { 8: 10, 64: 15 };
/** p99 below this at 8 connections. */
export const TARGET_P99_MS_AT_8 = 2;
/** p99 at most this multiple of the no-op responder's p99 at 64 connections. */
export const TARGET_P99_VS_NOOP_AT_64 = 1.5;
/** Memory is flat when RSS grows over a window by at most the larger of these. */
export const FLAT_GROWTH_MB = 5;
export const FLAT_GROWTH_SHARE = 0.1;
/** Outside load above this share of the host's CPU gets a warning. */
const OTHER_LOAD_WARNING = 0.1;
/** A generator using this much of a core may be what limits the rate. */
const GENERATOR_BUSY_CORES = 0.9;

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ms = (us: number) => fixed(us / 1000, us < 10_000 ? 2 : 1);
const holds = (ok: boolean) => (ok ? 'holds' : 'MISSED');
const perS = (r: RunResult) => r.load.requests / r.load.seconds;
const cores = (r: RunResult) => r.usage.cpuS / r.load.seconds;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Prints aligned columns: `align` has one letter per column, `l` for text, `r` for numbers. */
function table(align: string, rows: string[][]): void {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => (align[i] === 'r' ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** Whether RSS stayed flat over the window. */
export function flat(rssStartMb: number, rssEndMb: number): boolean {
  return rssEndMb - rssStartMb <= Math.max(FLAT_GROWTH_MB, FLAT_GROWTH_SHARE * rssStartMb);
}

const replies = (r: RunResult) => Object.entries(r.load.actions).sort((a, b) => b[1] - a[1])
  .map(([verb, n]) => `${verb.replace(/[^ -~]/g, '?').slice(0, 24)} ${int(n)}`).join(', ') || 'none';

/** The faster anchor of a connection count's runs. */
export function fasterAnchor(runs: RunResult[]): RunResult | undefined {
  return runs.filter((r) => ANCHORS.includes(r.server)).sort((a, b) => perS(b) - perS(a))[0];
}

export function printHeader(opts: { servers: ServerName[]; connections: number[]; seconds: number; warmup: number; clients: number; meanBytes: number; policydDb: string | undefined; redisPlain: boolean }): void {
  console.log(`policy bench: ${opts.servers.join(', ')} at ${opts.connections.join(', ')} connections; ${opts.seconds} s per run after ${opts.warmup} s of warm-up; ${availableParallelism()} CPUs`);
  console.log(`  rule: 1,000 recipients per 60 s per client address; RCPT requests of Postfix 3.7 (${int(opts.meanBytes)} bytes on average) from ${int(opts.clients)} client addresses`);
  if (opts.servers.includes('mailfleet')) console.log(`  mailfleet's Redis: ${opts.redisPlain ? 'plaintext (--redis-plain; the platform\'s kvs serves TLS only)' : 'TLS 1.3, as the platform\'s kvs serves it'}`);
  if (opts.servers.includes('policyd-rate-limit')) console.log(`  policyd-rate-limit's SQLite database: ${opts.policydDb === undefined ? 'on disk, in the run\'s directory (as Debian keeps it in /var/lib)' : `in ${opts.policydDb}`}`);
}

/** The table of one connection count and what it says against the targets. */
export function printConnections(connections: number, runs: RunResult[]): void {
  console.log('');
  console.log(plural(connections, 'connection'));
  const rows = [['server', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'CPU cores', 'RSS start → end MB', 'peak MB', 'PSS MB', 'procs', 'gen cores', 'replies']];
  for (const r of runs) {
    const l = r.load.latency;
    rows.push([r.server, int(perS(r)), ms(l.p50), ms(l.p99), ms(l.max), fixed(cores(r), 2), `${fixed(r.usage.rssStartMb, 1)} → ${fixed(r.usage.rssEndMb, 1)}`,
      fixed(r.usage.peakMb, 1), fixed(r.usage.pssEndMb, 1), String(r.usage.processes), fixed(r.load.cpuS / r.load.seconds, 2), replies(r)]);
    for (const h of r.helpers) {
      rows.push([`  ${h.name} (${r.server}'s store)`, '', '', '', '', fixed(h.usage.cpuS / r.load.seconds, 2), `${fixed(h.usage.rssStartMb, 1)} → ${fixed(h.usage.rssEndMb, 1)}`,
        fixed(h.usage.peakMb, 1), fixed(h.usage.pssEndMb, 1), String(h.usage.processes), '', '']);
    }
  }
  table('lrrrrrrrrrrl', rows);
  const noop = runs.find((r) => r.server === 'noop');
  if (noop) {
    const others = runs.filter((r) => r !== noop).map((r) => `${r.server} ${fixed(perS(r) / perS(noop), 3)}`);
    console.log(`no-op ceiling: ${int(perS(noop))} req/s, p99 ${ms(noop.load.latency.p99)} ms${others.length > 0 ? `; share of it reached: ${others.join(', ')}` : ''}`);
  }
  const anchor = fasterAnchor(runs);
  const ours = runs.find((r) => r.server === 'mailfleet');
  if (ours && anchor) {
    const ratio = perS(ours) / perS(anchor);
    const target = TARGET_RATIO[connections];
    console.log(`mailfleet / faster anchor (${anchor.server}, ${int(perS(anchor))} req/s): ${fixed(ratio, 1)}×${target === undefined ? '' : ` (target ≥ ${target}×): ${holds(ratio >= target)}`}`);
  }
  if (ours && connections === 8) console.log(`mailfleet p99 ${ms(ours.load.latency.p99)} ms (target < ${TARGET_P99_MS_AT_8} ms): ${holds(ours.load.latency.p99 / 1000 < TARGET_P99_MS_AT_8)}`);
  if (ours && noop && connections === 64) {
    const x = ours.load.latency.p99 / noop.load.latency.p99;
    console.log(`mailfleet p99 ${ms(ours.load.latency.p99)} ms = ${fixed(x, 2)}× the no-op's ${ms(noop.load.latency.p99)} ms (target ≤ ${TARGET_P99_VS_NOOP_AT_64}×): ${holds(x <= TARGET_P99_VS_NOOP_AT_64)}`);
  }
  for (const r of runs) {
    const grew = r.usage.rssEndMb - r.usage.rssStartMb;
    if (r.server === 'mailfleet' || !flat(r.usage.rssStartMb, r.usage.rssEndMb)) {
      console.log(`memory of ${r.server} over the window: ${grew >= 0 ? '+' : ''}${fixed(grew, 1)} MB (flat: at most +${FLAT_GROWTH_MB} MB or +${FLAT_GROWTH_SHARE * 100}%): ${holds(flat(r.usage.rssStartMb, r.usage.rssEndMb))}`);
    }
  }
  for (const r of runs) {
    if (r.load.cpuS / r.load.seconds >= GENERATOR_BUSY_CORES) console.log(`  the load generator used ${fixed(r.load.cpuS / r.load.seconds, 2)} of a core against ${r.server}: the generator may be what limits that rate`);
    if (r.counts?.failedOpen !== undefined && r.counts.failedOpen > 0) console.log(`  CHECK FAILED: ${r.server} answered ${int(r.counts.failedOpen)} requests with its default action without judging them (fail-open)`);
  }
  const busy = runs.filter((r) => r.otherLoad > OTHER_LOAD_WARNING);
  if (busy.length > 0) {
    console.log(`  WARNING: the host's CPU was busy outside the bench (${busy.map((r) => `${fixed(r.otherLoad * 100, 0)}% during ${r.server}`).join(', ')}): these figures measure the neighbours too`);
  }
}

/** The rule checks, one line per server. */
export function printRuleChecks(runs: RunResult[]): void {
  const checked = runs.filter((r) => r.ruleCheck !== undefined);
  if (checked.length === 0) return;
  console.log('');
  console.log('rule check (in each server\'s first run, one connection, a client the load never uses): the first refusal must come after');
  console.log('  request 1,000, and no later than the rate refills meanwhile (1,000 per 60 s of the check, which a GCRA gives back)');
  for (const r of checked) {
    const c = r.ruleCheck;
    if (!c) continue;
    const what = c.firstRefusal === undefined ? 'never refused' : `first refusal at request ${int(c.firstRefusal)} (${c.verb}) after ${fixed(c.seconds, 1)} s`;
    console.log(`  ${r.server}: ${what}: ${holds(c.holds)}`);
  }
}

/** mailfleet's own count of the requests it answered, against the generator's. */
export function printServerCounts(runs: RunResult[]): void {
  const counted = runs.filter((r) => r.counts !== undefined);
  if (counted.length === 0) return;
  console.log('');
  console.log('the server\'s own counts (its /metrics after the run: rule check, warm-up and window together; every request must be judged)');
  for (const r of counted) {
    const failed = r.counts?.failedOpen === undefined ? 'fail-open not exported' : `${int(r.counts.failedOpen)} failed open`;
    const answered = r.counts?.answered === undefined ? 'requests not exported' : `${int(r.counts.answered)} requests answered`;
    console.log(`  ${r.server} at ${plural(r.connections, 'connection')}: ${answered} (the generator counted ${int(r.load.warmupRequests + r.load.requests)} outside the rule check), ${failed}`);
  }
}

/** The targets over the whole run; returns whether every check (rule checks, no fail-open) passed. */
export function printSummary(all: RunResult[]): boolean {
  console.log('');
  const checksPassed = all.every((r) => (r.ruleCheck?.holds ?? true) && !((r.counts?.failedOpen ?? 0) > 0));
  const ours = all.filter((r) => r.server === 'mailfleet');
  if (ours.length === 0) {
    console.log('mailfleet not measured (--only): no ratios');
    return checksPassed;
  }
  console.log('targets (mailfleet):');
  for (const [c, target] of Object.entries(TARGET_RATIO)) {
    const runs = all.filter((r) => r.connections === Number(c));
    const m = runs.find((r) => r.server === 'mailfleet');
    const a = fasterAnchor(runs);
    if (m && a) console.log(`  ≥ ${target}× the faster anchor at ${c} connections: ${holds(perS(m) / perS(a) >= target)} (${fixed(perS(m) / perS(a), 1)}× ${a.server})`);
  }
  const at8 = ours.find((r) => r.connections === 8);
  if (at8) console.log(`  p99 < ${TARGET_P99_MS_AT_8} ms at 8 connections: ${holds(at8.load.latency.p99 / 1000 < TARGET_P99_MS_AT_8)} (${ms(at8.load.latency.p99)} ms)`);
  const at64 = ours.find((r) => r.connections === 64);
  const noop64 = all.find((r) => r.connections === 64 && r.server === 'noop');
  if (at64 && noop64) {
    const x = at64.load.latency.p99 / noop64.load.latency.p99;
    console.log(`  p99 ≤ ${TARGET_P99_VS_NOOP_AT_64}× the no-op's at 64 connections: ${holds(x <= TARGET_P99_VS_NOOP_AT_64)} (${fixed(x, 2)}×)`);
  }
  const flatAll = ours.every((r) => flat(r.usage.rssStartMb, r.usage.rssEndMb));
  console.log(`  memory flat under load in every run: ${holds(flatAll)} (${ours.map((r) => `${r.connections}: ${fixed(r.usage.rssStartMb, 1)} → ${fixed(r.usage.rssEndMb, 1)} MB`).join('; ')})`);
  for (const r of ours) {
    const noop = all.find((n) => n.server === 'noop' && n.connections === r.connections);
    if (noop) console.log(`  share of the no-op ceiling at ${plural(r.connections, 'connection')}: ${fixed(perS(r) / perS(noop), 3)} (${int(perS(r))} of ${int(perS(noop))} req/s)`);
  }
  return checksPassed;
}
