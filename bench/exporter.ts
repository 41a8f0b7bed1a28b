/**
 * Exporter bench: the same generated Postfix log (1,000,000 lines by default: whole message lifecycles, rejects,
 * SASL failures, TLS, bounces, the submission services, a second instance and hostile lines) fed to
 * prometheus-postfix-exporter (the Debian package, the anchor) and to mailfleet's exporter, one after the other
 * in one run; prints lines/s, CPU seconds, cores used, lines/s per core and peak memory of each, the ratio
 * against the target, whether every line was accounted for, and a metric-parity table.
 *
 *   node_modules/.bin/node bench/exporter.ts [--lines 1000000] [--seed 1] [--only anchor|mailfleet] [--keep]
 *
 * Target (the exporter issue; DESIGN.md "Targets"): ≥ 3× the anchor's lines/s per core, every line recognised
 * or counted as unsupported, peak memory under 100 MB. Needs the prometheus-postfix-exporter package
 * (scripts/install-debian-packages.sh --with-anchors); not root (it starts no mail daemon).
 * Exit status: 0 measured (targets held or not), 1 error, 2 bad command line, 130 interrupted.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { anchor, assertMailfleetHasExporter, mailfleet, type Exporter } from './exporter/exporters.ts';
import { writeLog } from './exporter/generate.ts';
import { measure, type Run } from './exporter/measure.ts';
import { printHeader, printParity, printRuns, printTargets } from './exporter/report.ts';
import { positive } from './support/options.ts';
import { runBench } from './support/run.ts';

const STATE_PREFIX = '/tmp/mailfleet-bench-exporter-';
const ANCHOR_BINARY = '/usr/bin/prometheus-postfix-exporter';
const USAGE = 'usage: node bench/exporter.ts [--lines N] [--seed S] [--only anchor|mailfleet] [--keep]';

interface Options {
  /** Lines in the generated log (1,000,000). */
  lines: number;
  /** Seed of the generator (1); the same seed and line count give the same log. */
  seed: number;
  /** Measure one exporter only (both by default); no ratio is printed then. */
  only?: 'anchor' | 'mailfleet';
  /** Keep the state directory (the log, each exporter's output) after a successful run. */
  keep: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { lines: { type: 'string' }, seed: { type: 'string' }, only: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.only !== undefined && values.only !== 'anchor' && values.only !== 'mailfleet') throw new Error(`--only: expected anchor or mailfleet, got ${values.only}\n${USAGE}`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed: expected an integer from 0 to 4294967295, got ${values.seed}\n${USAGE}`);
  return {
    lines: positive('lines', values.lines, 1_000_000, 50_000_000, USAGE),
    seed,
    ...(values.only === undefined ? {} : { only: values.only }),
    keep: values.keep === true,
  };
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  const sides: Exporter[] = [];
  try {
    if (opts.only !== 'mailfleet') {
      if (!existsSync(ANCHOR_BINARY)) throw new Error(`${ANCHOR_BINARY} is missing: scripts/install-debian-packages.sh --with-anchors installs it`);
      sides.push(anchor);
    }
    if (opts.only !== 'anchor') {
      console.error('bench: checking that bin/mailfleet has the exporter command (builds dist/ if a source changed)');
      await assertMailfleetHasExporter();
      sides.push(mailfleet);
    }
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 1;
  }
  return runBench({ prefix: STATE_PREFIX, keep: opts.keep, holds: '(postfix.log, anchor/exporter.log, mailfleet/exporter.log)' }, async ({ root, defer, cleanUp, signal }) => {
    const logFile = join(root, 'postfix.log');
    console.error(`bench: generating ${opts.lines.toLocaleString('en-US')} lines (seed ${opts.seed}) into ${logFile}`);
    const g0 = performance.now();
    const totals = await writeLog(logFile, { lines: opts.lines, seed: opts.seed }, signal);
    const generatedS = (performance.now() - g0) / 1000;
    const runs: Run[] = [];
    for (const side of sides) {
      signal.throwIfAborted();
      const dir = join(root, side === anchor ? 'anchor' : 'mailfleet');
      mkdirSync(dir);
      console.error(`bench: ${side.name}: starting on an empty log, then appending ${(totals.bytes / 1024 / 1024).toFixed(1)} MiB`);
      const run = await measure(side, dir, logFile, totals.lines, defer, signal);
      runs.push(run);
      console.error(`bench: ${side.name}: ${run.seen} lines in ${run.wallS.toFixed(2)} s, ${run.cpuS.toFixed(2)} CPU s, peak ${run.peakMb.toFixed(1)} MB`);
      // The next exporter gets a fresh copy; the page cache of this one's log is not needed any more.
      rmSync(join(dir, 'mail.log'), { force: true });
    }
    await cleanUp();
    const anchorRun = runs.find((r) => r.exporter === anchor.name);
    const oursRun = runs.find((r) => r.exporter === mailfleet.name);
    printHeader(totals, generatedS);
    printRuns(runs);
    printTargets(anchorRun, oursRun, totals);
    if (anchorRun) printParity(anchorRun, oursRun, totals);
    return true;
  });
}

process.exitCode = await main();
