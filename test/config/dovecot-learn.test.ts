import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LEARN_FILES, roleConfigFiles, type ConfigInput, type Peers } from '../../src/config/index.ts';
import { parseSpec, withSecrets } from '../../src/spec/index.ts';

const spec = parseSpec(`apiVersion: mailfleet.io/v1alpha1
kind: MailPlatform
metadata: { name: demo }
spec:
  domains: [example.com]
  hostname: mx.example.com
`).spec;

const SECRETS = { ldapAuthPassword: 'test-auth-secret-0123', ldapTlsKey: 'test-ldap-tls-key-0123456789', doveadmApiKey: 'test-doveadm-key-0123456789', backendLoginPassword: 'test-backend-login-0123', filterControllerPassword: 'test-controller-0123' };

const base: Peers = { ldap: [{ name: 'ldap-0', host: 'ldap-0.ldap' }], kvs: [], mailbox: [], proxy: [], mta: [], msa: [] };

function input(peers: Peers): ConfigInput {
  return {
    spec: withSecrets(spec, SECRETS),
    peers,
    instance: { role: 'mailbox', name: 'mailbox-0', listen: '0.0.0.0', configDir: '/etc/mailfleet', dataDir: '/var/lib/mailfleet', runDir: '/run/mailfleet', mailDir: '/srv/mail', tlsDir: '/etc/mailfleet/tls' },
  };
}

const withAs = input({ ...base, as: [{ name: 'as', host: '10.0.0.7' }] });

test('GIVEN no as instance WHEN a backend is rendered THEN it neither learns nor files into Junk, and holds no controller password', () => {
  const files = roleConfigFiles('mailbox', input(base));
  const conf = files['dovecot.conf'] ?? '';
  assert.doesNotMatch(conf, /sieve|Junk/);
  for (const name of LEARN_FILES) assert.equal(files[name], undefined, name);
  assert.doesNotMatch(JSON.stringify(files), /test-controller-0123/);
});

test('GIVEN an as instance WHEN a backend is rendered THEN imapsieve learns spam on COPY or APPEND into Junk and ham on COPY out of it', () => {
  const conf = roleConfigFiles('mailbox', withAs)['dovecot.conf'] ?? '';
  assert.match(conf, /protocol imap \{\n {2}mail_plugins = \$mail_plugins imap_quota imap_sieve\n\}/);
  assert.match(conf, /protocol lmtp \{\n {2}mail_plugins = \$mail_plugins quota sieve\n\}/);
  assert.match(conf, /^ {2}imapsieve_mailbox1_name = Junk\n {2}imapsieve_mailbox1_causes = COPY APPEND\n {2}imapsieve_mailbox1_before = file:\/etc\/mailfleet\/sieve\/learn-spam\.sieve$/m);
  assert.match(conf, /^ {2}imapsieve_mailbox2_name = \*\n {2}imapsieve_mailbox2_from = Junk\n {2}imapsieve_mailbox2_causes = COPY\n {2}imapsieve_mailbox2_before = file:\/etc\/mailfleet\/sieve\/learn-ham\.sieve$/m);
  assert.match(conf, /^ {2}sieve_before = \/etc\/mailfleet\/sieve\/spam-to-junk\.sieve$/m);
  // The program runs behind a script service's socket in base_dir, with an address-space limit Node.js starts under.
  assert.match(conf, /^ {2}sieve_pipe_socket_dir = \.$/m);
  assert.doesNotMatch(conf, /sieve_pipe_bin_dir/);
  assert.match(conf, /^service rspamd-learn \{\n {2}executable = script \/etc\/mailfleet\/sieve\/rspamd-learn\n {2}user = vmail\n {2}vsz_limit = 2048 M\n {2}process_limit = 10\n {2}unix_listener rspamd-learn \{\n {4}user = vmail\n {4}mode = 0600\n {2}\}\n\}$/m);
  assert.match(conf, /mailbox Junk \{\n {4}special_use = \\Junk\n {4}auto = subscribe\n/);
  assert.doesNotMatch(conf, /test-controller-0123/);
});

test('GIVEN an as instance WHEN a backend is rendered THEN the learn program runs mailfleet learn with the password from a file, the message size limit and a deadline', () => {
  const files = roleConfigFiles('mailbox', withAs);
  const program = files['rspamd-learn'] ?? '';
  assert.match(program, /^#!\/bin\/sh\n/);
  // The agent puts its launcher's path in place of the token when it installs the program.
  assert.match(program, /\nexec \{\{mailfleet-cli\}\} learn "\$1" --url http:\/\/10\.0\.0\.7:11334 --password-file \/etc\/mailfleet\/sieve\/rspamd-learn\.password --max-bytes 52428800 --timeout 10\n$/);
  assert.doesNotMatch(program, /test-controller-0123|curl/);
  assert.equal(files['rspamd-learn.password'], 'test-controller-0123\n');
  assert.match(files['learn-ham.sieve'] ?? '', /if string "\$\{mailbox\}" "Trash" \{ stop; \}/);
  assert.match(files['spam-to-junk.sieve'] ?? '', /if header :is "X-Spam" "Yes" \{ fileinto "Junk"; stop; \}/);
});

test('GIVEN an IPv6 as address WHEN rendered THEN the controller URL brackets it', () => {
  const files = roleConfigFiles('mailbox', input({ ...base, as: [{ name: 'as', host: 'fd00::7' }] }));
  assert.match(files['rspamd-learn'] ?? '', / --url http:\/\/\[fd00::7\]:11334 /);
});
