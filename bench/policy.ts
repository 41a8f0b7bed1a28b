/**
 * Policy bench: postfwd and policyd-rate-limit (the Debian packages, the anchors), mailfleet's policy server and a
 * no-op responder (the ceiling), each enforcing the same rule (1,000 recipients per 60 s per client address)
 * under the same load of Postfix RCPT requests at 1, 8 and 64 connections, side by side in one run; prints
 * requests/s, p50 and p99 latency, CPU and memory, mailfleet's ratio to the faster anchor, the share of the no-op
 * ceiling each reaches, and the targets.
 *
 *   node_modules/.bin/node bench/policy.ts [--connections 1,8,64] [--seconds 10] [--warmup 2] [--clients 4096]
 *                                          [--seed 1] [--only noop,postfwd,policyd-rate-limit,mailfleet]
 *                                          [--mailfleet PATH] [--policyd-db DIR] [--quick] [--keep]
 *
 * Targets (the flow-control issue; DESIGN.md "Targets"): ≥ 10× the faster anchor's requests/s at 8 connections and
 * ≥ 15× at 64, p99 < 2 ms at 8 connections and ≤ 1.5× the no-op's p99 at 64, memory flat under load.
 * Needs root (the anchors switch to their own users) and the packages of scripts/install-debian-packages.sh
 * --with-anchors. Exit status: 0 measured (targets held or not), 1 error or a failed check (a rule that did not
 * bite, requests mailfleet failed open), 2 bad command line, 130 interrupted.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { printConnections, printHeader, printRuleChecks, printServerCounts, printSummary } from './policy/report.ts';
import { measureRun, type RunResult } from './policy/run.ts';
import { ANCHORS, assertMailfleetHasPolicy, BINARIES, MAILFLEET_CLI, SERVER_NAMES, serverFor, type ServerName } from './policy/servers.ts';
import { cleanupStack } from './support/cleanup.ts';
import { runningAsRoot } from './support/interrupt.ts';
import { positive } from './support/options.ts';
import { runBench } from './support/run.ts';

const STATE_PREFIX = '/tmp/mailfleet-bench-policy-';
const USAGE = 'usage: node bench/policy.ts [--connections 1,8,64] [--seconds 10] [--warmup 2] [--clients 4096] [--seed 1] '
  + '[--only noop,postfwd,policyd-rate-limit,mailfleet] [--mailfleet PATH] [--policyd-db DIR] [--redis-plain] [--quick] [--keep]';
/** The connections cycle through this many pre-encoded requests. */
const POOL_REQUESTS = 8192;
const MAX_CONNECTIONS = 1000;

interface Options {
  /** Connection counts, each measured for every server (1, 8, 64). */
  connections: number[];
  /** Timed window per run, seconds (10; 3 with --quick). */
  seconds: number;
  /** Warm-up before each window, seconds (2; 1 with --quick). */
  warmup: number;
  /** Distinct client addresses in the requests (4096). */
  clients: number;
  /** Seed of the requests (1). */
  seed: number;
  /** Servers to measure, in this order (all four by default). */
  servers: ServerName[];
  /** The mailfleet CLI to run (this checkout's bin/mailfleet). */
  mailfleet: string;
  /** Where policyd-rate-limit keeps its SQLite database (the run's directory, on disk as Debian's is). */
  policydDb: string | undefined;
  /** mailfleet's Redis in plaintext, as the kvs served it before TLS: what TLS costs, by difference. */
  redisPlain: boolean;
  /** Keep the state directory (configs and logs of every run) after a successful run. */
  keep: boolean;
}

function list(name: string, value: string, parse: (item: string) => string | undefined): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new Error(`--${name}: empty list\n${USAGE}`);
  for (const item of items) {
    const problem = parse(item);
    if (problem !== undefined) throw new Error(`--${name}: ${problem}\n${USAGE}`);
  }
  if (new Set(items).size !== items.length) throw new Error(`--${name}: ${value} names something twice\n${USAGE}`);
  return items;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      connections: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, clients: { type: 'string' }, seed: { type: 'string' },
      only: { type: 'string' }, mailfleet: { type: 'string' }, 'policyd-db': { type: 'string' }, 'redis-plain': { type: 'boolean' }, quick: { type: 'boolean' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const connections = list('connections', values.connections ?? '1,8,64', (c) => {
    const n = Number(c);
    return Number.isInteger(n) && n >= 1 && n <= MAX_CONNECTIONS ? undefined : `expected whole numbers from 1 to ${MAX_CONNECTIONS}, got ${c}`;
  }).map(Number);
  const only = list('only', values.only ?? SERVER_NAMES.join(','), (s) => (SERVER_NAMES.includes(s as ServerName) ? undefined : `expected some of ${SERVER_NAMES.join(', ')}, got ${s}`));
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`--seed: expected an integer from 0 to 4294967295, got ${values.seed}\n${USAGE}`);
  return {
    connections,
    seconds: positive('seconds', values.seconds, quick ? 3 : 10, 3600, USAGE),
    warmup: positive('warmup', values.warmup, quick ? 1 : 2, 600, USAGE),
    clients: positive('clients', values.clients, 4096, 1_000_000, USAGE),
    seed,
    // Always in the table's order, whatever order --only names them in.
    servers: SERVER_NAMES.filter((s) => only.includes(s)),
    mailfleet: values.mailfleet ?? MAILFLEET_CLI,
    policydDb: values['policyd-db'],
    redisPlain: values['redis-plain'] === true,
    keep: values.keep === true,
  };
}

async function preflight(opts: Options): Promise<void> {
  if (opts.servers.some((s) => ANCHORS.includes(s)) && !runningAsRoot()) throw new Error('the anchors switch to their own users: run it as root');
  for (const s of opts.servers) {
    if (s === 'postfwd' || s === 'policyd-rate-limit') {
      if (!existsSync(BINARIES[s])) throw new Error(`${BINARIES[s]} is missing: scripts/install-debian-packages.sh --with-anchors installs it`);
    }
  }
  if (opts.policydDb !== undefined && !existsSync(opts.policydDb)) throw new Error(`--policyd-db: ${opts.policydDb} does not exist`);
  if (opts.servers.includes('mailfleet')) {
    if (!existsSync(BINARIES.redis)) throw new Error(`${BINARIES.redis} is missing: scripts/install-debian-packages.sh installs it`);
    console.error(`bench: checking that ${opts.mailfleet} has the policy command (builds dist/ if a source changed)`);
    await assertMailfleetHasPolicy(opts.mailfleet);
  }
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  try {
    await preflight(opts);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 1;
  }
  // The anchors run as their own users and read their configs in the run's directory (0755).
  return runBench({ prefix: STATE_PREFIX, keep: opts.keep, holds: '(a directory per server and connection count)' }, async ({ root, defer, cleanUp, seen, signal }) => {
    const runs: RunResult[] = [];
    const checked = new Set<ServerName>();
    // Each run stops its server itself; this stops the one running when the bench is cut short.
    let runStack = cleanupStack();
    defer('the server under test', () => runStack.run());
    for (const connections of opts.connections) {
      for (const name of opts.servers) {
        signal.throwIfAborted();
        const server = serverFor(name, { mailfleetCli: opts.mailfleet, policydDbDir: opts.policydDb, redisPlain: opts.redisPlain });
        console.error(`bench: ${name} at ${connections} connection${connections === 1 ? '' : 's'}${checked.has(name) || !server.hasRule ? '' : ' (with the rule check first)'}`);
        runStack = cleanupStack();
        const runOptions = {
          warmupMs: opts.warmup * 1000,
          durationMs: opts.seconds * 1000,
          seed: opts.seed,
          clients: opts.clients,
          poolRequests: POOL_REQUESTS,
          checkRule: !checked.has(name),
        };
        let run: RunResult;
        try {
          run = await measureRun(server, connections, runOptions, join(root, `${name}-${connections}`), runStack, signal);
        } finally {
          for (const [pid, start] of runStack.seen) seen.set(pid, start);
        }
        checked.add(name);
        runs.push(run);
        const l = run.load;
        console.error(`bench: ${name} at ${connections}: ${Math.round(l.requests / l.seconds)} req/s, p99 ${(l.latency.p99 / 1000).toFixed(2)} ms`);
      }
    }
    await cleanUp();
    printHeader({ servers: opts.servers, connections: opts.connections, seconds: opts.seconds, warmup: opts.warmup, clients: opts.clients, meanBytes: runs[0]?.load.poolMeanBytes ?? NaN, policydDb: opts.policydDb, redisPlain: opts.redisPlain });
    for (const c of opts.connections) printConnections(c, runs.filter((r) => r.connections === c));
    printRuleChecks(runs);
    printServerCounts(runs);
    return printSummary(runs);
  });
}

process.exitCode = await main();
