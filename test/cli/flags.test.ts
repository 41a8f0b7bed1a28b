import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../support/platform.ts';

/**
 * Every command refuses a malformed flag before it does anything else: exit 2, the first line names the
 * flag and what it expected. `first` is that whole line where mailfleet's parser writes it, or a pattern
 * for node's own complaints (a missing value, a value for a switch).
 */
const CASES: { command: string; args: string[]; first: string | RegExp; env?: Record<string, string> }[] = [
  { command: 'up', args: ['up', '-f', 'spec.yaml', '--log-stdout=yes'], first: '--log-stdout takes no value' },
    { command: 'status', args: ['status', '--json=yes'], first: '--json takes no value' },
  { command: 'scale', args: ['scale', 'mailbox', 'many'], first: 'N: expected a whole number ≥ 0, got "many"' },
  { command: 'scale', args: ['scale', 'mailbox', '--', '-1'], first: 'N: expected a whole number ≥ 0, got "-1"' },
  { command: 'scale', args: ['scale', 'mailbox', '-1'], first: '-1: no argument here takes a negative number' },
  { command: 'scale', args: ['scale', 'nosuchrole', '2'], first: 'unknown role nosuchrole; roles: ldap, kvs, mailbox, proxy, mta, msa' },
  { command: 'scale', args: ['scale', 'mailbox', '2', '3'], first: 'unexpected argument 3' },
  { command: 'restart', args: ['restart', 'nosuchrole'], first: 'unknown role nosuchrole; roles: ldap, kvs, policy, av, as, mailbox, proxy, mta, msa, probe' },
  { command: 'status', args: ['status', '--json', 'extra'], first: 'unexpected argument extra' },
  { command: 'status', args: ['status', '--bogus'], first: 'unknown option --bogus' },
  { command: 'down', args: ['down', '--state-dir'], first: '--state-dir needs a value' },
  { command: 'render', args: ['render', 'crd', 'extra'], first: 'unexpected argument extra' },
  { command: 'dkim', args: ['dkim', 'frobnicate'], first: 'unknown subcommand frobnicate' },
  { command: 'restart', args: ['restart', 'mailbox', '--state-dir'], first: '--state-dir needs a value' },
  { command: 'accounts', args: ['accounts', 'add', 'user@example.com', '--password', 'secret', '--quota', '1GB'], first: '--quota: expected a quota: 0 (none) or a whole number with an optional K, M, G or T (e.g. 1G), got "1GB"' },
  { command: 'validate', args: ['validate', '--file'], first: '--file needs a value' },
  { command: 'render', args: ['render', 'operator', '--namespace', 'Tenants'], first: '--namespace: expected a name of lower-case letters, digits and \'-\', at most 63, starting and ending with a letter or digit, got "Tenants"' },
  { command: 'controller', args: ['controller', '--resync', 'abc'], first: '--resync: expected a whole number of seconds from 1 to 3600, got "abc"' },
  { command: 'controller', args: ['controller', '--vhost-count', '0'], first: '--vhost-count: expected a whole number from 1 to 1000, got "0"' },
  { command: 'controller', args: ['controller', '--ring-port', '70000'], first: '--ring-port: expected a port number from 1 to 65535, got "70000"' },
  { command: 'controller', args: ['controller', '--listen', '8081'], first: '--listen: expected HOST:PORT with a port from 0 (any free port) to 65535 (e.g. 0.0.0.0:8081, [::]:8081), got "8081"' },
  { command: 'controller', args: ['controller', '--source', 'endpoints'], first: '--source: expected one of kube, local, got "endpoints"' },
  { command: 'controller', args: ['controller', '--director', 'proxy-0:8080'], first: '--director: expected comma-separated http:// or https:// URLs, got "proxy-0:8080"' },
  { command: 'operator', args: ['operator', '--resync', 'abc'], first: '--resync: expected a whole number of seconds from 1 to 3600, got "abc"' },
  { command: 'operator', args: ['operator', '--listen', '0.0.0.0:http'], first: '--listen: expected HOST:PORT with a port from 0 (any free port) to 65535 (e.g. 0.0.0.0:8081, [::]:8081), got "0.0.0.0:http"' },
  { command: 'operator', args: ['operator', '--allowed-cluster-issuers', 'letsencrypt,Internal_CA'], first: '--allowed-cluster-issuers: not a ClusterIssuer name: "Internal_CA"' },
  { command: 'render', args: ['render', 'operator', '--allowed-cluster-issuers', 'a/b'], first: '--allowed-cluster-issuers: not a ClusterIssuer name: "a/b"' },
  { command: 'dns', args: ['dns', 'audit', 'example.com', '--resolv-conf'], first: /^mailfleet: .*--resolv-conf/ },
  { command: 'agent', args: ['agent', '--role', 'mta', '--name', 'mta-0', '--listen', 'localhost'], first: '--listen: expected an IPv4 or IPv6 address, got "localhost"' },
  { command: 'agent', args: ['agent', '--pod', '--role', 'mta', '--name', 'mta-0', '--log-format', 'text'], first: '--log-format: expected one of raw, json, got "text"' },
  { command: 'agent drain', args: ['agent', 'drain', '--socket'], first: /^mailfleet: .*--socket/ },
  { command: 'agent drain', args: ['agent', 'drain', '--name', 'mta-0', '--socket', '/run/x.sock'], first: '--socket and --name exclude each other' },
  { command: 'agent drain', args: ['agent', 'drain', '--name', '../mta-0'], first: '--name: expected a name of lower-case letters, digits and \'-\', at most 63, starting and ending with a letter or digit, got "../mta-0"' },
  { command: 'policy', args: ['policy', '--rules', 'rules.yaml', '--deadline-ms', '2'], first: '--deadline-ms: expected a whole number of milliseconds from 5 to 10000, got "2"' },
  { command: 'policy', args: ['policy', '--rules', 'rules.yaml', '--redis', 'kvs-0'], first: '--redis: expected HOST:PORT with a port from 0 (any free port) to 65535 (e.g. 0.0.0.0:8081, [::]:8081), got "kvs-0"' },
  { command: 'policy', args: ['policy', '--listen', '127.0.0.1:10040', '--redis', '127.0.0.1:6379'], first: '--redis comes from the platform\'s spec without --rules' },
  {
    command: 'policy', args: ['policy', '--rules', 'rules.yaml', '--redis', '10.0.0.5:6379'], env: { MAILFLEET_REDIS_PASSWORD: 'a-redis-password' },
    first: '--redis 10.0.0.5: the password would cross the network in clear; give --redis-tls platform (a platform\'s kvs) or --redis-tls CA-FILE',
  },
  { command: 'policy', args: ['policy', '--rules', 'rules.yaml', '--redis-tls', 'platform'], first: '--redis-tls platform: the CA is derived from the Redis password; give --redis-password-file' },
  { command: 'controller', args: ['controller', '--director', 'http://proxy-0.proxy:8080'], first: '--director http://proxy-0.proxy:8080: the doveadm API is called over https:// only (it carries the API key)' },
  { command: 'probe', args: ['probe', '--interval', '2'], first: '--interval: expected a whole number of seconds from 5 to 3600, got "2"' },
  { command: 'probe', args: ['probe', '--msa', 'submission'], first: '--msa: expected HOST:PORT with a port from 0 (any free port) to 65535 (e.g. 0.0.0.0:8081, [::]:8081), got "submission"' },
  { command: 'probe', args: ['probe', '--json'], first: '--json only with --once' },
  { command: 'probe', args: ['probe', '--imap', 'access:993', '--pop3', 'access:995'], first: 'give --msa, --mta or both: the paths to probe' },
  { command: 'probe', args: ['probe', '--mta', 'mx:25', '--imap', 'access:993', '--pop3', 'access:995', '--account', 'nobody'], first: '--account: expected a mail address, got "nobody"' },
  { command: 'dkim', args: ['dkim', 'generate', 'example.com', '--bits', '1024'], first: '--bits: expected one of 2048, 3072, 4096, got "1024"' },
  { command: 'dkim', args: ['dkim', 'generate', 'example.com', '--algorithm', 'ed25519', '--bits', '4096'], first: '--bits is for rsa keys; an ed25519 key has no size to choose' },
  { command: 'dkim', args: ['dkim', 'rotate', 'example.com', '--dns', 'ns1.example.net:53'], first: '--dns: expected an IP address and a port from 1 to 65535, got ns1.example.net:53' },
  { command: 'dkim', args: ['dkim', 'rotate', 'example.com', '--retire-after', 'a week'], first: '--retire-after: expected a whole number of days from 0 to 365, got "a week"' },
  { command: 'dkim', args: ['dkim', 'show', 'example..com'], first: 'DOMAIN: expected a domain name, got "example..com"' },
  { command: 'dkim', args: ['dkim', 'export-secret'], first: 'export-secret needs -f SPEC: the Secret is named and placed after the platform' },
  { command: 'learn', args: ['learn', 'spam', '--url', 'as:11334', '--password-file', '/x'], first: '--url: expected an http:// or https:// URL, got "as:11334"' },
  { command: 'learn', args: ['learn', 'ham', '--url', 'http://as:11334', '--password-file', '/x', '--timeout', '0'], first: '--timeout: expected a whole number of seconds from 1 to 300, got "0"' },
  { command: 'learn', args: ['learn', 'spam', '--url', 'http://as:11334'], first: '--password-file is required' },
  // The HTTP port takes no drain any more: --url is gone, not ignored.
  { command: 'agent drain', args: ['agent', 'drain', '--url', 'http://127.0.0.1:8081'], first: 'unknown option --url' },
];

for (const { command, args, first, env } of CASES) {
  test(`GIVEN mailfleet ${args.join(' ')} WHEN run THEN ${command} exits 2 naming the flag before doing anything`, (t) => {
    // A state directory nothing runs in: a command that got past its flags would fail differently.
    const stateDir = mkdtempSync('/tmp/mailfleet-unit-flags-');
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    const { MAILFLEET_REDIS_PASSWORD: _, ...inherited } = process.env;
    const r = runCli(args, { ...inherited, MAILFLEET_STATE_DIR: join(stateDir, 'none'), KUBECONFIG: join(stateDir, 'no-kubeconfig'), ...env });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    const line = r.stderr.split('\n')[0] ?? '';
    if (typeof first === 'string') assert.equal(line, `mailfleet: ${first}`);
    else assert.match(line, first);
    assert.match(r.stderr, /\nusage: mailfleet /);
  });
}

test('GIVEN --help or -h after a command WHEN run THEN its usage is on stdout and it exits 0, doing nothing else', () => {
  for (const args of [['up', '--help'], ['controller', '-h'], ['policy', '--rules', 'rules.yaml', '--help'], ['render', 'redis-ca', '--help'], ['render', 'crd', '--help'], ['dkim', '--help'], ['exporter', '-h'], ['dns', '--help']]) {
    const r = runCli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: mailfleet ${args[0]} `), args.join(' '));
    assert.equal(r.stderr, '');
  }
  // After `--` it is an argument, not a flag.
  assert.equal(runCli(['scale', 'mailbox', '--', '--help']).code, 2);
});
