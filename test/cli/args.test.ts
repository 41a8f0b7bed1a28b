import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, parse, type OptionSpec } from '../../src/cli/args.ts';
import { isMailfleetError } from '../../src/errors.ts';

const USAGE = 'mailfleet thing [--flags]';

/** The first line of the USAGE error `fn` throws (the second is the usage). */
function usageLine(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isMailfleetError(err, 'USAGE'), `expected a USAGE error, got ${String(err)}`);
    return err.message.split('\n')[0] ?? '';
  }
  assert.fail('expected a USAGE error, none was thrown');
}

const OPTIONS = {
  resync: { type: 'integer', min: 1, max: 3600, unit: 'seconds', default: 30 },
  count: { type: 'integer', min: 0 },
  port: { type: 'port' },
  listen: { type: 'host-port', default: '0.0.0.0:8081' },
  quota: { type: 'quota', default: '1G' },
  source: { type: 'choice', values: ['kube', 'local'], default: 'kube' },
  url: { type: 'url' },
  director: { type: 'url', list: true },
  namespace: { type: 'name', short: 'n' },
  address: { type: 'ip' },
  json: { type: 'boolean' },
  file: { type: 'string', short: 'f' },
} as const satisfies Record<string, OptionSpec>;

test('GIVEN no flags WHEN parsed THEN defaults are there in their typed form and the rest is absent', () => {
  const { values, positionals } = parse(['a', 'b'], OPTIONS, USAGE, 2);
  assert.deepEqual(positionals, ['a', 'b']);
  assert.equal(values.resync, 30);
  assert.deepEqual(values.listen, { host: '0.0.0.0', port: 8081 });
  assert.equal(values.quota, '1G');
  assert.equal(values.source, 'kube');
  assert.equal(values.count, undefined);
  assert.equal(values.json, undefined);
  assert.ok(Object.isFrozen(values));
});

test('GIVEN well-formed values WHEN parsed THEN each comes back typed', () => {
  const { values } = parse(
    ['--resync=3600', '--count', '0', '--port', '65535', '--listen', '[::1]:9000', '--quota', '0', '--source', 'local', '--url', 'https://h:1/x',
      '--director', 'http://proxy-0.proxy:8080, http://proxy-1.proxy:8080', '-n', 'tenant-1', '--address', 'fd00::5', '--json', '-f', 'x.yaml'],
    OPTIONS, USAGE,
  );
  assert.deepEqual({ ...values }, {
    resync: 3600, count: 0, port: 65535, listen: { host: '::1', port: 9000 }, quota: '0', source: 'local', url: 'https://h:1/x',
    director: ['http://proxy-0.proxy:8080', 'http://proxy-1.proxy:8080'], namespace: 'tenant-1', address: 'fd00::5', json: true, file: 'x.yaml',
  });
});

test('GIVEN a non-number for a number WHEN parsed THEN the USAGE error names the flag, what it expected and what it got', () => {
  assert.equal(usageLine(() => parse(['--resync', 'abc'], OPTIONS, USAGE)), '--resync: expected a whole number of seconds from 1 to 3600, got "abc"');
  assert.equal(usageLine(() => parse(['--count', '1e3'], OPTIONS, USAGE)), '--count: expected a whole number ≥ 0, got "1e3"');
});

test('GIVEN whole-number flags WHEN values are negative, fractional, padded or out of range THEN each is refused', () => {
  for (const raw of ['0', '-5', '1.5', '3601', ' 30', '030', '', '0x10', '99999999999999999999']) {
    assert.match(usageLine(() => parse([`--resync=${raw}`], OPTIONS, USAGE)), /^--resync: expected a whole number of seconds from 1 to 3600, got /, raw);
  }
});

test('GIVEN a port flag WHEN it is 0, too large or not a number THEN it is refused naming the range', () => {
  for (const raw of ['0', '65536', 'http']) {
    assert.equal(usageLine(() => parse(['--port', raw], OPTIONS, USAGE)), `--port: expected a port number from 1 to 65535, got ${JSON.stringify(raw)}`);
  }
});

test('GIVEN HOST:PORT flags WHEN malformed THEN they are refused naming the flag', () => {
  for (const raw of ['8081', '0.0.0.0', ':8081', '0.0.0.0:', '0.0.0.0:-1', '0.0.0.0:70000', '::1:8081', '[nothost]:80', 'a b:80', 'host:80:90']) {
    assert.match(usageLine(() => parse(['--listen', raw], OPTIONS, USAGE)), /^--listen: expected HOST:PORT with a port from 0 \(any free port\) to 65535/, raw);
  }
  assert.deepEqual(parse(['--listen', 'localhost:80'], OPTIONS, USAGE).values.listen, { host: 'localhost', port: 80 });
});

test('GIVEN a quota flag WHEN it is not in the spec\'s quota form THEN it is refused', () => {
  for (const raw of ['1GB', 'lots', '-1G', '01G', '1g']) {
    assert.match(usageLine(() => parse([`--quota=${raw}`], OPTIONS, USAGE)), /^--quota: expected a quota: 0 \(none\) or a whole number/, raw);
  }
});

test('GIVEN a choice flag WHEN given something else THEN the choices are listed', () => {
  assert.equal(usageLine(() => parse(['--source', 'Kube'], OPTIONS, USAGE)), '--source: expected one of kube, local, got "Kube"');
});

test('GIVEN URL flags WHEN not http(s) URLs THEN they are refused; in a list one bad URL is enough', () => {
  for (const raw of ['127.0.0.1:8081', 'ftp://h/', 'http://']) {
    assert.match(usageLine(() => parse(['--url', raw], OPTIONS, USAGE)), /^--url: expected an http:\/\/ or https:\/\/ URL, got /, raw);
  }
  assert.match(usageLine(() => parse(['--director', 'http://a:1,b:2'], OPTIONS, USAGE)), /^--director: expected comma-separated http:\/\/ or https:\/\/ URLs, got "http:\/\/a:1,b:2"$/);
  assert.match(usageLine(() => parse(['--director', 'http://a:1,'], OPTIONS, USAGE)), /^--director: /);
});

test('GIVEN a name flag WHEN it is not a DNS label as the spec\'s names are THEN it is refused', () => {
  for (const raw of ['Tenants', 'a_b', '-a', 'a-', 'x'.repeat(64), '']) {
    assert.match(usageLine(() => parse([`--namespace=${raw}`], OPTIONS, USAGE)), /^--namespace: expected a name of lower-case letters/, raw);
  }
});

test('GIVEN an IP flag WHEN given a host name or a CIDR THEN it is refused', () => {
  for (const raw of ['localhost', '10.0.0.1/8', '300.1.1.1']) {
    assert.equal(usageLine(() => parse(['--address', raw], OPTIONS, USAGE)), `--address: expected an IPv4 or IPv6 address, got ${JSON.stringify(raw)}`);
  }
});

test('GIVEN parseArgs\' own complaints (unknown flag, missing or dash-led value, value for a boolean) THEN they are USAGE errors naming the flag', () => {
  assert.match(usageLine(() => parse(['--frobnicate'], OPTIONS, USAGE)), /--frobnicate/);
  assert.match(usageLine(() => parse(['--resync'], OPTIONS, USAGE)), /--resync/);
  assert.match(usageLine(() => parse(['--resync', '-5'], OPTIONS, USAGE)), /--resync/);
  assert.match(usageLine(() => parse(['--json=yes'], OPTIONS, USAGE)), /--json/);
});

test('GIVEN more arguments than the command takes WHEN parsed THEN the first one too many is refused, not ignored', () => {
  assert.equal(usageLine(() => parse(['--json', 'stray'], OPTIONS, USAGE)), 'unexpected argument stray');
  assert.equal(usageLine(() => parse(['a', 'b', 'c'], OPTIONS, USAGE, 2)), 'unexpected argument c');
  assert.deepEqual(parse(['a', '--', '-b'], OPTIONS, USAGE, 2).positionals, ['a', '-b']);
});

test('GIVEN parseArgs\' own complaints WHEN parsed THEN they read as the rest of the CLI does', () => {
  assert.equal(usageLine(() => parse(['--frobnicate'], OPTIONS, USAGE)), 'unknown option --frobnicate');
  assert.equal(usageLine(() => parse(['-1'], OPTIONS, USAGE, 1)), '-1: no argument here takes a negative number');
  assert.equal(usageLine(() => parse(['-f'], OPTIONS, USAGE)), '--file needs a value');
  assert.equal(usageLine(() => parse(['--json=yes'], OPTIONS, USAGE)), '--json takes no value');
});

test('GIVEN a USAGE error THEN its message ends with the command\'s usage', () => {
  assert.throws(() => parse(['--resync', 'x'], OPTIONS, USAGE), (err: Error) => err.message.endsWith(`\nusage: ${USAGE}`));
});

test('GIVEN a positional WHEN checked like a flag THEN it is typed or refused by its own label', () => {
  assert.equal(check('N', { type: 'integer', min: 0 }, '3', USAGE), 3);
  assert.equal(usageLine(() => check('N', { type: 'integer', min: 0 }, 'three', USAGE)), 'N: expected a whole number ≥ 0, got "three"');
});

test('GIVEN a listen address with port 0 WHEN parsed THEN it is taken (bind any free port)', () => {
  assert.deepEqual(parse(['--listen', '127.0.0.1:0'], OPTIONS, USAGE).values.listen, { host: '127.0.0.1', port: 0 });
});
