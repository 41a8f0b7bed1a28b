import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMailfleetError } from '../../src/errors.ts';
import { demoAccounts, INSTANCE_ROLES, loadSpecFile, parseSpec, quotaBytes, roleRefusal } from '../../src/spec/index.ts';

const MINIMAL = `apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
`;

function problems(text: string): string[] {
  try {
    parseSpec(text, 'test.yaml');
  } catch (err) {
    if (isMailfleetError(err, 'SPEC_INVALID')) return [...err.details];
    throw err;
  }
  return [];
}

test('GIVEN a minimal spec WHEN parsed THEN every default is filled in and the result is frozen', () => {
  const p = parseSpec(MINIMAL);
  assert.equal(p.spec.roles.mailbox.replicas, 3);
  assert.equal(p.spec.ports.smtp, 25);
  assert.equal(p.spec.local.addressPool, '127.77.0.0/16');
  assert.ok(Object.isFrozen(p.spec.roles));
});

test('GIVEN an unknown field WHEN parsed THEN the problem names its path', () => {
  assert.deepEqual(problems(MINIMAL + '  colour: blue\n'), ['spec.colour: unknown field']);
});

test('GIVEN several problems WHEN parsed THEN each is reported on its own line with its field path', () => {
  const text = MINIMAL.replace('[example.com]', '[example.com, "not a domain"]') + '  roles:\n    mta: { replicas: -1 }\n  ports: { smtp: 70000 }\n';
  const got = problems(text);
  assert.ok(got.some((l) => l.startsWith('spec.domains[1]: expected a value matching')), got.join('\n'));
  assert.ok(got.includes('spec.roles.mta.replicas: must be >= 0'), got.join('\n'));
  assert.ok(got.includes('spec.ports.smtp: must be <= 65535'), got.join('\n'));
});

test('GIVEN a missing required field WHEN parsed THEN the field is named', () => {
  assert.deepEqual(problems(MINIMAL.replace('  domains: [example.com]\n', '  hostname: mx.example.com\n')), ['spec.domains: required field is missing']);
});

test('GIVEN an account in a domain that is not served WHEN parsed THEN the account field is named', () => {
  const got = problems(MINIMAL + '  accounts:\n    seed: [{ address: a@other.org, password: pw1234-long-enough }]\n');
  assert.deepEqual(got, ['spec.accounts.seed[0].address: domain other.org is not in spec.domains']);
});

test('GIVEN mta without proxy WHEN parsed THEN the dependency is explained', () => {
  const got = problems(MINIMAL + '  roles:\n    proxy: { replicas: 0 }\n');
  assert.ok(got[0]?.startsWith('spec.roles.proxy.replicas: expected at least 1'), got.join('\n'));
});

const UNPARSABLE: readonly { given: string; text: string; message: string }[] = [
  { given: 'a key given twice', text: 'kind: MailPlatform\nkind: Other\n', message: 'x.yaml: not valid YAML: Map keys must be unique at line 2, column 1' },
  { given: 'a mapping inside a compact one', text: 'metadata: name: demo\n', message: 'x.yaml: not valid YAML: Nested mappings are not allowed in compact mappings at line 1, column 11' },
  { given: 'a [ never closed', text: 'kind: MailPlatform\nspec: [unclosed\n', message: 'x.yaml: not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at the end of the file' },
];

for (const { given, text, message } of UNPARSABLE) {
  test(`GIVEN YAML with ${given} WHEN loaded THEN SPEC_UNREADABLE says what the parser found, and where`, () => {
    assert.throws(() => parseSpec(text, 'x.yaml'), (err: unknown) => isMailfleetError(err, 'SPEC_UNREADABLE') && err.message === message);
  });
}

test('GIVEN a spec file that is missing or a directory WHEN loaded THEN SPEC_UNREADABLE says which', () => {
  assert.throws(() => loadSpecFile('/nonexistent/spec.yaml'), (err: unknown) => isMailfleetError(err, 'SPEC_UNREADABLE') && err.message === '/nonexistent/spec.yaml: cannot read spec file: no such file');
  assert.throws(() => loadSpecFile('/tmp'), (err: unknown) => isMailfleetError(err, 'SPEC_UNREADABLE') && err.message === '/tmp: cannot read spec file: a directory, not a file');
});

test('GIVEN generated accounts WHEN expanded THEN they follow prefix and count after the seeded ones', () => {
  const p = parseSpec(MINIMAL + '  accounts:\n    seed: [{ address: a@example.com, password: pw1234-long-enough }]\n    generate: [{ count: 2, domain: example.com, password: pw1234-long-enough }]\n');
  assert.deepEqual(demoAccounts(p.spec).map((a) => a.address), ['a@example.com', 'user1@example.com', 'user2@example.com']);
});

test('GIVEN quotas WHEN converted THEN units are binary and 0 means unlimited', () => {
  assert.equal(quotaBytes('1G'), 1024 ** 3);
  assert.equal(quotaBytes('500M'), 500 * 1024 ** 2);
  assert.equal(quotaBytes('0'), 0);
  assert.throws(() => quotaBytes('1.5G'));
});

test('GIVEN a spec without secrets WHEN parsed THEN none is filled in: no default secret exists', () => {
  const p = parseSpec(MINIMAL);
  assert.equal(p.spec.ldap.adminPassword, undefined);
  assert.equal(p.spec.ldap.readerPassword, undefined);
  assert.equal(p.spec.director.apiKey, undefined);
});

test('GIVEN a spec holding a well-known secret WHEN parsed THEN it is refused, naming the field', () => {
  const cases: [string, string][] = [
    ['  ldap: { adminPassword: change-me-ldap-admin }\n', 'spec.ldap.adminPassword'],
    ['  ldap: { readerPassword: change-me-ldap-reader }\n', 'spec.ldap.readerPassword'],
    ['  director: { apiKey: change-me-doveadm-api-key }\n', 'spec.director.apiKey'],
    ['  ldap: { adminPassword: demo-ldap-admin-pw }\n', 'spec.ldap.adminPassword'],
  ];
  for (const [lines, field] of cases) {
    const got = problems(MINIMAL + lines);
    assert.ok(got.some((l) => l.startsWith(`${field}:`) && /well-known/.test(l)), `${field}: ${got.join('\n')}`);
  }
});

test('GIVEN a spec secret shorter than 16 characters or with a space WHEN parsed THEN it is refused, naming the field', () => {
  assert.ok(problems(MINIMAL + '  ldap: { adminPassword: short-pw-123 }\n').some((l) => l.startsWith('spec.ldap.adminPassword:')));
  assert.ok(problems(MINIMAL + '  director: { apiKey: "two words of a key 0123" }\n').some((l) => l.startsWith('spec.director.apiKey:')));
});

test('GIVEN demo accounts with passwords shorter than the minimum (default 12) WHEN parsed THEN each is refused, naming its field and the rule', () => {
  const got = problems(MINIMAL + '  accounts:\n    seed: [{ address: a@example.com, password: elevenchars }]\n    generate: [{ count: 2, domain: example.com, password: short }]\n');
  assert.ok(got.includes('spec.accounts.seed[0].password: at least 12 characters (spec.accounts.passwordMinLength); this one has 11'), got.join('\n'));
  assert.ok(got.some((l) => l.startsWith('spec.accounts.generate[0].password: at least 12 characters')), got.join('\n'));
});

test('GIVEN spec.accounts.passwordMinLength WHEN a demo password is checked THEN that minimum applies, and control characters never pass', () => {
  assert.deepEqual(problems(MINIMAL + '  accounts:\n    passwordMinLength: 8\n    seed: [{ address: a@example.com, password: eightchr }]\n'), []);
  assert.ok(problems(MINIMAL + '  accounts:\n    passwordMinLength: 20\n    seed: [{ address: a@example.com, password: nineteen-characters }]\n').some((l) => /at least 20 characters/.test(l)));
  assert.ok(problems(MINIMAL + '  accounts:\n    seed: [{ address: a@example.com, password: "a long password\\twith a tab" }]\n').some((l) => /control characters/.test(l)));
  assert.ok(problems(MINIMAL + '  accounts:\n    passwordMinLength: 4\n').some((l) => l.startsWith('spec.accounts.passwordMinLength:')));
});

test('GIVEN no hashing settings WHEN parsed THEN passwords are stored as Argon2id at OWASP\'s 19 MiB and 2 passes', () => {
  assert.deepEqual(parseSpec(MINIMAL).spec.accounts.passwordHash, { scheme: 'ARGON2ID', memoryKiB: 19456, passes: 2 });
});

test('GIVEN no alerting section WHEN parsed THEN for: durations are unscaled and rules are evaluated every 30 s', () => {
  assert.deepEqual({ ...parseSpec(MINIMAL).spec.alerting }, { forScale: 1, evaluationSeconds: 30 });
});

test('GIVEN an alerting forScale of 0 or above 1, or an evaluation interval of 0 s or a fraction, WHEN parsed THEN the field is named', () => {
  const cases: [string, string][] = [
    ['forScale: 0', 'spec.alerting.forScale: must be >= 0.000001'],
    ['forScale: 1.5', 'spec.alerting.forScale: must be <= 1'],
    ['evaluationSeconds: 0', 'spec.alerting.evaluationSeconds: must be >= 1'],
    ['evaluationSeconds: 1.5', 'spec.alerting.evaluationSeconds: expected integer'],
  ];
  for (const [field, problem] of cases) assert.deepEqual(problems(`${MINIMAL}  alerting: { ${field} }\n`), [problem], field);
  assert.equal(parseSpec(`${MINIMAL}  alerting: { forScale: 0.01, evaluationSeconds: 1 }\n`).spec.alerting.forScale, 0.01);
});

test('GIVEN a minimal spec WHEN parsed THEN the single host names no alert webhook (nothing is posted off the host) and scrapes every 30 s', () => {
  const { local } = parseSpec(MINIMAL).spec;
  assert.equal(local.alertWebhookUrl, undefined);
  assert.equal(local.scrapeIntervalSeconds, 30);
  assert.deepEqual(local.alertTimings, { groupWaitSeconds: 30, groupIntervalSeconds: 300, repeatIntervalSeconds: 14400 });
});

test('GIVEN a single-host alert webhook that is not an http(s) URL WHEN parsed THEN the field is named', () => {
  for (const url of ['ftp://pager.example.net/x', 'http://pager example.net/x']) {
    const got = problems(MINIMAL + `  local: { alertWebhookUrl: "${url}" }\n`);
    assert.ok(got.some((l) => l.startsWith('spec.local.alertWebhookUrl: expected a value matching')), got.join('\n'));
  }
  assert.deepEqual(problems(MINIMAL + '  local: { alertWebhookUrl: "https://pager.example.net/hooks/mail", alertTimings: { groupWaitSeconds: 1 } }\n'), []);
});

test('GIVEN a role name from a command line or a control request WHEN checked THEN one of the roles passes and anything else is refused naming them', () => {
  assert.equal(roleRefusal('mailbox', INSTANCE_ROLES), undefined);
  assert.equal(roleRefusal('mailboxes', ['mailbox', 'proxy']), 'unknown role mailboxes; roles: mailbox, proxy');
  assert.equal(roleRefusal(7, ['mailbox']), 'unknown role 7; roles: mailbox');
  assert.equal(roleRefusal(undefined, ['mailbox']), 'unknown role undefined; roles: mailbox');
});
