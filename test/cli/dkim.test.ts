/**
 * `mailfleet dkim` as scripts use it: stdout read from a pipe and parsed (`mailfleet dkim list --json | jq`),
 * exit codes, and the state directory it leaves. The DNS check of rotate is in test/integration/dkim-rotate.test.ts.
 * The tests at the end run the command in this process ({@link dkimHere}): what they check needs no built dist/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import { dkimCommand } from '../../src/cli/dkim.ts';
import { isMailfleetError } from '../../src/errors.ts';
import { runCli, type CliResult } from '../support/platform.ts';

const EXAMPLE = new URL('../../examples/mailfleet.yaml', import.meta.url).pathname;
const README = new URL('../../README.md', import.meta.url).pathname;
const DAY_MS = 86_400_000;

interface ListedKey { domain: string; selector: string; state: string; algorithm: string; bits?: number; created: string; retireAt?: string; ageSeconds: number }
interface Shown { domain: string; records: { selector: string; state: string; name: string; value: string; strings: string[]; zone: string }[] }

function stateDir(t: TestContext): string {
  const dir = mkdtempSync('/tmp/mailfleet-unit-dkim-cli-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function dkim(dir: string, ...args: string[]): CliResult {
  return runCli(['dkim', ...args, '--state-dir', dir], { ...process.env, MAILFLEET_STATE_DIR: '' });
}

function ok(r: CliResult): string {
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const list = (dir: string): ListedKey[] => JSON.parse(ok(dkim(dir, 'list', '--json'))) as ListedKey[];

test('GIVEN an empty store WHEN a key is generated THEN list --json shows it active, and show --json gives its record in strings of at most 255 bytes', (t) => {
  const dir = stateDir(t);
  const out = ok(dkim(dir, 'generate', 'Example.COM'));
  const keys = list(dir);
  assert.equal(keys.length, 1);
  const [key] = keys as [ListedKey];
  assert.deepEqual([key.domain, key.state, key.algorithm, key.bits], ['example.com', 'active', 'rsa', 2048]);
  assert.match(key.selector, /^mf\d{8}$/);
  assert.ok(key.ageSeconds >= 0 && key.ageSeconds < 600);
  assert.ok(!('publicKey' in key), 'list leaves the key material to show');

  const shown = JSON.parse(ok(dkim(dir, 'show', 'example.com', '--json'))) as Shown;
  assert.equal(shown.records.length, 1);
  const [record] = shown.records as [Shown['records'][number]];
  assert.equal(record.name, `${key.selector}._domainkey.example.com`);
  assert.match(record.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
  assert.equal(record.strings.join(''), record.value);
  assert.ok(record.strings.every((s) => Buffer.byteLength(s) <= 255));
  assert.ok(out.includes(record.zone), 'generate printed the record to publish');
  const text = ok(dkim(dir, 'show', 'example.com'));
  assert.deepEqual(text.split('\n').filter((l) => l !== '' && !l.startsWith(';')), [record.zone], 'the text form is zone-file lines and comments');
});

test('GIVEN a domain with a key WHEN generate runs again THEN it exits 1 naming the selector, and with --force a new selector replaces it', (t) => {
  const dir = stateDir(t);
  ok(dkim(dir, 'generate', 'example.com', '--algorithm', 'ed25519'));
  const again = dkim(dir, 'generate', 'example.com');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^mailfleet: example\.com already has DKIM selector mf\d{8} \(active\)/);
  ok(dkim(dir, 'generate', 'example.com', '--force'));
  assert.deepEqual(list(dir).map((k) => `${k.state} ${k.algorithm}`), ['retired ed25519', 'active rsa']);
});

test('GIVEN a signing domain WHEN rotated, then rotated with --force THEN the new selector is pending, then active, and the old one retiring for 7 days with both records to publish', (t) => {
  const dir = stateDir(t);
  ok(dkim(dir, 'generate', 'example.com', '--algorithm', 'ed25519'));
  const started = ok(dkim(dir, 'rotate', 'example.com', '--algorithm', 'ed25519'));
  assert.match(started, /is pending: publish this record/);
  assert.deepEqual(list(dir).map((k) => k.state), ['active', 'pending']);
  assert.equal(readdirSync(join(dir, 'dkim', 'signing')).length, 2, 'the pending key is not in the signing directory');

  const done = ok(dkim(dir, 'rotate', 'example.com', '--force'));
  assert.match(done, /signs with selector mf\d{8}-2 from now \(forced, its record not checked\); mf\d{8} is retiring/);
  const [old, current] = list(dir) as [ListedKey, ListedKey];
  assert.deepEqual([old.state, current.state], ['retiring', 'active']);
  const period = Date.parse(old.retireAt ?? '') - Date.now();
  assert.ok(period > 7 * DAY_MS - 600_000 && period <= 7 * DAY_MS, `retireAt ${old.retireAt}`);
  const shown = JSON.parse(ok(dkim(dir, 'show', 'example.com', '--json'))) as Shown;
  assert.deepEqual(shown.records.map((r) => `${r.selector} ${r.state}`), [`${old.selector} retiring`, `${current.selector} active`]);
  assert.equal(readFileSync(join(dir, 'dkim', 'signing', 'selectors.map'), 'utf8'), `example.com ${current.selector}\n`);
});

test('GIVEN a retire period of 0 days WHEN a rotation is forced and the keys synced THEN the replaced selector is retired and its record no longer shown', (t) => {
  const dir = stateDir(t);
  ok(dkim(dir, 'generate', 'example.com', '--algorithm', 'ed25519'));
  ok(dkim(dir, 'rotate', 'example.com', '--force', '--retire-after', '0'));
  assert.match(ok(dkim(dir, 'sync')), /^example\.com: mf\d{8} retired; its record may be removed$/m);
  assert.deepEqual(list(dir).map((k) => k.state), ['retired', 'active']);
  const shown = JSON.parse(ok(dkim(dir, 'show', 'example.com', '--json'))) as Shown;
  assert.deepEqual(shown.records.map((r) => r.state), ['active']);
});

test('GIVEN a spec WHEN a key is asked for a domain outside spec.domains THEN exit 2 naming the domain and the domains served, and nothing is written', (t) => {
  const dir = stateDir(t);
  const r = runCli(['dkim', 'generate', 'example.org', '-f', EXAMPLE, '--state-dir', dir]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.split('\n')[0], `mailfleet: example.org is not a domain of the platform: spec.domains in ${EXAMPLE} lists example.com, example.net`);
  assert.deepEqual(readdirSync(dir), []);
});

test('GIVEN a running platform\'s spec in the state directory WHEN rotate names another domain THEN it is refused the same way', (t) => {
  const dir = stateDir(t);
  const validated = runCli(['validate', '-f', EXAMPLE]);
  assert.equal(validated.code, 0, validated.stderr);
  // `validate` prints the spec with its defaults as YAML; the runtime keeps it as JSON.
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(parse(validated.stdout)));
  const r = dkim(dir, 'rotate', 'example.org');
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /example\.org is not a domain of the platform: spec\.domains in .*spec\.json lists example\.com, example\.net/);
});

test('GIVEN keys for one of the spec\'s domains WHEN export-secret runs THEN stdout is one Secret demo-dkim holding the signing files, and stderr names the domain left unsigned', (t) => {
  const dir = stateDir(t);
  ok(dkim(dir, 'generate', 'example.com', '--algorithm', 'ed25519'));
  ok(runCli(['dkim', 'generate', 'example.org', '--state-dir', dir]));
  const r = runCli(['dkim', 'export-secret', '-f', EXAMPLE, '--state-dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /example\.org is not in spec\.domains .*: its keys are left out/);
  assert.match(r.stderr, /example\.net has no active DKIM key: its mail goes out unsigned/);
  const docs = r.stdout.split(/^---$/m).filter((d) => d.trim() !== '').map((d) => parse(d) as { kind: string; metadata: { name: string }; data: Record<string, string> });
  assert.equal(docs.length, 1);
  const [secret] = docs as [(typeof docs)[number]];
  assert.deepEqual([secret.kind, secret.metadata.name], ['Secret', 'demo-dkim']);
  const signing = join(dir, 'dkim', 'signing');
  const expected = readdirSync(signing).filter((f) => !f.startsWith('example.org.'));
  assert.deepEqual(Object.keys(secret.data).sort(), expected.sort());
  for (const name of expected) assert.equal(Buffer.from(secret.data[name] ?? '', 'base64').toString('utf8'), readFileSync(join(signing, name), 'utf8').replace(/^example\.org .*\n/m, ''), name);
});

/** `mailfleet dkim …` run in this process (no build of dist/): its exit code and what it wrote to stdout. */
async function dkimHere(t: TestContext, dir: string, ...args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const write = t.mock.method(process.stdout, 'write', (chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  try {
    return { code: await dkimCommand([...args, '--state-dir', dir]), stdout };
  } finally {
    write.mock.restore();
  }
}

async function keyKinds(t: TestContext, dir: string): Promise<string[]> {
  const listed = await dkimHere(t, dir, 'list', '--json');
  return (JSON.parse(listed.stdout) as ListedKey[]).map((k) => `${k.state} ${k.bits === undefined ? k.algorithm : `${k.algorithm}-${k.bits}`}`);
}

test('GIVEN the README\'s CLI section WHEN its dkim synopsis is read THEN it is the usage dkim prints, line for line', async () => {
  const usage = await dkimCommand([]).then(() => '', (err: unknown) => (isMailfleetError(err, 'USAGE') ? err.message : ''));
  const printed = usage.split('\nusage: ')[1]?.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('mailfleet dkim '));
  const section = readFileSync(README, 'utf8').split(/^## CLI$/m)[1]?.split(/^## /m)[0] ?? '';
  const documented = section.split('\n').filter((l) => l.startsWith('mailfleet dkim '));
  assert.ok(printed && printed.length >= 6, usage);
  assert.deepEqual(documented, printed);
});

test('GIVEN an ed25519 domain WHEN rotate runs without --algorithm THEN the pending selector is ed25519; with --algorithm rsa it is rsa-2048', async (t) => {
  const dir = stateDir(t);
  assert.equal((await dkimHere(t, dir, 'generate', 'example.com', '--algorithm', 'ed25519')).code, 0);
  const rotated = await dkimHere(t, dir, 'rotate', 'example.com');
  assert.equal(rotated.code, 0);
  assert.match(rotated.stdout, /new selector mf\d{8}-2 \(ed25519\) is pending/);
  assert.deepEqual(await keyKinds(t, dir), ['active ed25519', 'pending ed25519']);

  const other = stateDir(t);
  assert.equal((await dkimHere(t, other, 'generate', 'example.com', '--algorithm', 'ed25519')).code, 0);
  assert.equal((await dkimHere(t, other, 'rotate', 'example.com', '--algorithm', 'rsa')).code, 0);
  assert.deepEqual(await keyKinds(t, other), ['active ed25519', 'pending rsa-2048']);
});

test('GIVEN a domain generated with --bits 4096 WHEN rotate runs without --bits THEN the pending selector is rsa-4096', async (t) => {
  const dir = stateDir(t);
  assert.equal((await dkimHere(t, dir, 'generate', 'example.com', '--bits', '4096')).code, 0);
  assert.equal((await dkimHere(t, dir, 'rotate', 'example.com')).code, 0);
  assert.deepEqual(await keyKinds(t, dir), ['active rsa-4096', 'pending rsa-4096']);
});

test('GIVEN an ed25519 domain WHEN rotate is given --bits without --algorithm THEN USAGE (exit 2) saying to add --algorithm rsa, and nothing is pending', async (t) => {
  const dir = stateDir(t);
  assert.equal((await dkimHere(t, dir, 'generate', 'example.com', '--algorithm', 'ed25519')).code, 0);
  await assert.rejects(dkimHere(t, dir, 'rotate', 'example.com', '--bits', '4096'), (err) => isMailfleetError(err, 'USAGE') && /--algorithm rsa/.test(err.message));
  assert.deepEqual(await keyKinds(t, dir), ['active ed25519']);
});
