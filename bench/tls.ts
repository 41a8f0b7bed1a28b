/**
 * TLS bench: IMAPS logins per second through the platform's proxy (director → backend) against bare Dovecot
 * IMAPS on the same host, measured in one run.
 *
 *   node_modules/.bin/node bench/tls.ts [--seconds 15] [--concurrency 8] [--recipients 50] [--rounds 3] [--quick] [--keep]
 *
 * Both paths serve the same certificate (the platform's, from its local CA) with the same TLS settings (the
 * proxy generator's), read the same accounts from the platform's LDAP and verify the same Argon2id hash once
 * per login; the bare Dovecot is a `mailbox` config serving clients itself. The rounds alternate bare,
 * full, bare, full, … and the path not being timed is frozen (SIGSTOP), as in bench/delivery.ts.
 *
 * Needs root (the daemons do) and the Debian packages scripts/install-debian-packages.sh installs.
 * Target (DESIGN.md): logins through the proxy ≥ 0.9 of bare Dovecot IMAPS.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { readyEndpoint, startFull } from './delivery/full.ts';
import { freeze, thaw } from './delivery/rounds.ts';
import { benchSpec } from './delivery/spec.ts';
import type { DeliveryTarget } from './delivery/target.ts';
import { positive } from './support/options.ts';
import { runningAsRoot } from './support/interrupt.ts';
import { assertNothingListens } from './support/processes.ts';
import { runBench } from './support/run.ts';
import { BARE_IMAPS_ADDRESS, startBareImaps } from './tls/bare.ts';
import { runLogins, type LoginLoad, type LoginResult } from './tls/logins.ts';

const TARGET_RATIO = 0.9;
const STATE_PREFIX = '/tmp/mailfleet-bench-';
const PASSWORD = 'bench-password';
const THAW_SETTLE_MS = 2000;
const USAGE = 'usage: node bench/tls.ts [--seconds S] [--concurrency C] [--recipients R] [--rounds N] [--quick] [--keep]';

interface Options {
  seconds: number;
  concurrency: number;
  recipients: number;
  rounds: number;
  keep: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      concurrency: { type: 'string', short: 'c' },
      recipients: { type: 'string', short: 'r' },
      rounds: { type: 'string' },
      quick: { type: 'boolean' },
      keep: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  return {
    seconds: positive('seconds', values.seconds, quick ? 5 : 15, 3600, USAGE),
    concurrency: positive('concurrency', values.concurrency, 8, 1000, USAGE),
    recipients: positive('recipients', values.recipients, quick ? 10 : 50, 100_000, USAGE),
    rounds: positive('rounds', values.rounds, quick ? 1 : 3, 100, USAGE),
    keep: values.keep === true,
  };
}

interface Path {
  name: 'bare' | 'full';
  load: LoginLoad;
  target: Pick<DeliveryTarget, 'processRoots'> & { name: string };
  rounds: LoginResult[];
}

/**
 * The full platform's agents (with their daemons) but the LDAP one: the bare Dovecot reads its accounts from
 * the same LDAP, which therefore runs in both paths' rounds.
 */
function agentsButLdap(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const role = args[args.indexOf('--role') + 1];
    if (args.includes('agent') && args.includes(stateDir) && role !== undefined && role !== 'ldap') pids.push(Number(entry));
  }
  return pids;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function rate(r: { logins: number; elapsedMs: number }): number {
  return r.elapsedMs > 0 ? (r.logins * 1000) / r.elapsedMs : 0;
}

function total(path: Path): LoginResult {
  return path.rounds.reduce<LoginResult>((a, r) => ({
    logins: a.logins + r.logins,
    failures: a.failures + r.failures,
    elapsedMs: a.elapsedMs + r.elapsedMs,
    latenciesMs: a.latenciesMs.concat(r.latenciesMs),
    ...(a.firstFailure ?? r.firstFailure ? { firstFailure: a.firstFailure ?? r.firstFailure } : {}),
  }), { logins: 0, failures: 0, elapsedMs: 0, latenciesMs: [] });
}

function report(opts: Options, paths: [Path, Path]): void {
  const [bare, full] = paths;
  const rows = paths.map((p) => {
    const t = total(p);
    const lat = [...t.latenciesMs].sort((a, b) => a - b);
    return { path: p.name, t, lat };
  });
  console.log(`\nIMAPS logins, ${opts.concurrency} clients, ${opts.rounds} round(s) of ${opts.seconds} s per path, full TLS handshakes (no resumption)`);
  console.log('path   logins  failures  logins/s   p50 ms   p99 ms');
  for (const { path, t, lat } of rows) {
    console.log(`${path.padEnd(6)} ${String(t.logins).padStart(6)}  ${String(t.failures).padStart(8)}  ${rate(t).toFixed(1).padStart(8)}  ${percentile(lat, 50).toFixed(1).padStart(7)}  ${percentile(lat, 99).toFixed(1).padStart(7)}`);
    if (t.firstFailure) console.log(`       first failure: ${t.firstFailure}`);
  }
  const perRound = bare.rounds.map((b, i) => rate(full.rounds[i] ?? b) / (rate(b) || 1));
  console.log(`per round full/bare: ${perRound.map((r) => r.toFixed(3)).join(' ')}`);
  const ratio = rate(total(full)) / (rate(total(bare)) || 1);
  console.log(`ratio full/bare: ${ratio.toFixed(3)} (target ≥ ${TARGET_RATIO}): ${ratio >= TARGET_RATIO ? 'holds' : 'MISSED'}`);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  if (!runningAsRoot()) return 1;
  return runBench({ prefix: STATE_PREFIX, keep: opts.keep }, async ({ root, defer, cleanUp, signal }) => {
    const bench = benchSpec(opts.recipients);
    const { spec } = bench.platform;
    await assertNothingListens(BARE_IMAPS_ADDRESS, spec.ports.imaps);
    console.error('bench: starting the full platform');
    const full = await startFull(join(root, 'full'), bench, defer, signal);
    defer('full path (thaw)', async () => thaw(full));
    const stateDir = full.stateDir ?? '';
    const proxy = await readyEndpoint(stateDir, 'proxy', 'imap');
    const caFile = join(stateDir, 'tls', 'ca.crt');
    if (!existsSync(caFile)) throw new Error(`${caFile} is missing: the platform issued no local CA`);
    const ca = readFileSync(caFile, 'utf8');
    const servername = spec.hostname;
    console.error('bench: starting bare Dovecot IMAPS on the platform\'s LDAP');
    const ldap = await readyEndpoint(stateDir, 'ldap', 'ldap');
    const bare = await startBareImaps(join(root, 'bare'), spec, stateDir, ldap.host, defer, signal);
    defer('bare path (thaw)', async () => thaw({ processRoots: () => [bare.pid] } as DeliveryTarget));
    const base = { servername, ca, users: bench.recipients, password: PASSWORD, concurrency: opts.concurrency, durationMs: opts.seconds * 1000 };
    const paths: [Path, Path] = [
      { name: 'bare', load: { ...base, host: bare.host, port: bare.port }, target: { name: 'bare', processRoots: () => [bare.pid] }, rounds: [] },
      { name: 'full', load: { ...base, host: proxy.host, port: spec.ports.imaps }, target: { name: 'full', processRoots: () => agentsButLdap(stateDir) }, rounds: [] },
    ];
    // Warm-up: every user logs in once on each path (the director places them, caches fill), then the path is frozen.
    for (const p of paths) {
      const warm = await runLogins({ ...p.load, durationMs: 3000, concurrency: Math.min(4, opts.concurrency) }, signal);
      if (warm.logins === 0) throw new Error(`${p.name}: no login succeeded while warming up: ${warm.firstFailure ?? 'no answer'}`);
      console.error(`bench: ${p.name} warmed up (${warm.logins} logins, ${warm.failures} failures)`);
      freeze(p.target as DeliveryTarget);
    }
    for (let round = 1; round <= opts.rounds; round++) {
      for (const p of paths) {
        thaw(p.target as DeliveryTarget);
        await delay(THAW_SETTLE_MS, undefined, { signal });
        const r = await runLogins(p.load, signal);
        freeze(p.target as DeliveryTarget);
        p.rounds.push(r);
        console.error(`bench: round ${round} ${p.name}: ${rate(r).toFixed(1)} logins/s (${r.logins} logins, ${r.failures} failures)`);
      }
    }
    for (const p of paths) thaw(p.target as DeliveryTarget);
    await cleanUp();
    report(opts, paths);
    return true;
  });
}

process.exitCode = await main();
