/**
 * Integration test files run two at a time (scripts/test). Each keeps to loopback addresses no other file uses: a
 * platform's pool (`127.X.0.0/16`, whose addresses it hands out from the bottom) belongs to one file, and an address a
 * file names is named by no other. The benchmarks count too: integration tests run them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}

test('GIVEN the integration tests and benchmarks WHEN their loopback addresses are read THEN no two files share a pool or an address', () => {
  const pools = new Map<string, Set<string>>();
  const addresses = new Map<string, Set<string>>();
  const octets = new Map<string, Set<string>>();
  const add = (map: Map<string, Set<string>>, key: string, file: string) => map.set(key, (map.get(key) ?? new Set()).add(file));
  const files = [...sources('test/integration'), ...sources('bench')];
  for (const file of files) {
    const text = readFileSync(join(REPO, file), 'utf8');
    for (const m of text.matchAll(/127\.(\d+)\.0\.0\/16/g)) add(pools, m[1] ?? '', file);
    for (const m of text.matchAll(/127\.(\d+)\.(\d+)\.(\d+)(?![\d/])/g)) {
      if (m[1] === '0') continue;
      add(addresses, m[0], file);
      add(octets, m[1] ?? '', file);
    }
  }
  assert.ok(pools.size > 20, `only ${pools.size} pools found`);
  // The benchmarks are one family; so is a directory of tests sharing a harness that hands each its own addresses.
  const harnessDirs = new Set(files.filter((f) => /\/(harness|tools)\.ts$/.test(f)).map((f) => dirname(f)));
  const benchFamily = (f: string) => (f.startsWith('bench/') ? 'bench' : harnessDirs.has(dirname(f)) ? relative('test/integration', dirname(f)) : relative('test/integration', f));
  const clashes: string[] = [];
  for (const [octet, owners] of pools) {
    const users = new Set([...owners, ...(octets.get(octet) ?? [])].map(benchFamily));
    if (users.size > 1) clashes.push(`pool 127.${octet}.0.0/16: ${[...users].sort().join(', ')}`);
  }
  for (const [address, users] of addresses) {
    const families = new Set([...users].map(benchFamily));
    if (families.size > 1) clashes.push(`${address}: ${[...families].sort().join(', ')}`);
  }
  assert.deepEqual(clashes, []);
});
