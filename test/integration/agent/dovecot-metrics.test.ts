/**
 * Dovecot's own metrics on a running platform, read where Prometheus reads them: the /metrics of the proxy's and
 * the mailbox's agent. Stock clients log in over IMAP and POP3 (one login fails), a message is delivered through
 * the mta, and the dovecot_* series that this traffic must move are checked, as is the agents' whole output with
 * promtool.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { instanceRunDir } from '../../../src/agent/index.ts';
import { message, sendAll, waitQueueEmpty } from '../../support/mail.ts';
import { DOMAIN, HOSTNAME, localCaFile, startPlatform, type InstanceStatus } from '../../support/platform.ts';
import { until } from '../../support/poll.ts';
import { pythonClient } from '../../support/tls-clients.ts';

const POOL = '127.111.0.0/16';
const PASSWORD = 'dovecot-metrics-password';
/** Dovecot's processes report their events to its stats process asynchronously: a short wait at most. */
const EVENTS_DEADLINE_MS = 30_000;

async function scrape(instance: InstanceStatus): Promise<string> {
  const res = await fetch(`http://${instance.address}:${instance.ports.http}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

/** The value of the one series named `name` whose labels are exactly `labels` plus the agent's role and instance. */
function value(text: string, instance: InstanceStatus, name: string, labels: Record<string, string> = {}): number | undefined {
  const all = { ...labels, role: instance.role, instance: instance.name };
  const wanted = Object.entries(all).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] as string).matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort().join(',');
    if (got === wanted) return Number(m[3]);
  }
  return undefined;
}

/** Polls the agent until every series in `expected` is above 0; returns the last scrape. */
async function untilMoved(instance: InstanceStatus, expected: [string, Record<string, string>][]): Promise<string> {
  let last = '';
  try {
    return await until(`${instance.name}'s dovecot series`, async () => {
      last = await scrape(instance);
      return expected.every(([name, labels]) => (value(last, instance, name, labels) ?? 0) > 0) ? last : undefined;
    }, EVENTS_DEADLINE_MS, 250);
  } catch (err) {
    const missing = expected.filter(([name, labels]) => !((value(last, instance, name, labels) ?? 0) > 0)).map(([n, l]) => `${n}${JSON.stringify(l)}`);
    throw new Error(`${(err as Error).message}; still 0 or absent: ${missing.join(' ')}\n${last.split('\n').filter((l) => l.startsWith('dovecot_')).join('\n')}`, { cause: err });
  }
}

/** promtool check metrics on stdin: exit status (1: a parse error, 3: lint findings only) and what it printed. */
function promtool(text: string): { code: number; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

test('Dovecot\'s metrics through the agents of proxy and mailbox, with real daemons', { timeout: 600_000 }, async (t) => {
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 3, password: PASSWORD, roles: { mailbox: 1, proxy: 1, mta: 1, msa: 0 } });
  const proxy = await platform.instance('proxy-0');
  const mailbox = await platform.instance('mailbox-0');
  const mta = await platform.instance('mta-0');
  const user = `user1@${DOMAIN}`;
  const mid = `dovecot-metrics-${Date.now().toString(36)}@client.test`;
  const client = { host: proxy.address, name: HOSTNAME, ca: localCaFile(platform.stateDir), user, password: PASSWORD };

  await t.test('GIVEN the platform WHEN a message is delivered through the mta and read over IMAPS and POP3S, and a login fails THEN each client step did what it should', async () => {
    const [sent] = await sendAll(mta.address, mta.ports.smtp as number, [message(mid, 'sender@remote.test', user)], 1, { tls: platform.clientTls('starttls') });
    assert.equal(sent?.data?.code, 250, JSON.stringify(sent));
    await waitQueueEmpty(join(platform.stateDir, 'instances', 'mta-0', 'config'));
    const imap = pythonClient<{ login: string; found: number }>('imaps', { ...client, port: proxy.ports.imaps as number, mid });
    assert.deepEqual([imap.error, imap.login, imap.found], [undefined, 'OK', 1]);
    const pop3 = pythonClient<{ pass: string; count: number }>('pop3s', { ...client, port: proxy.ports.pop3s as number });
    assert.equal(pop3.error, undefined);
    assert.match(pop3.pass, /^\+OK/);
    const refused = pythonClient('imaps', { ...client, port: proxy.ports.imaps as number, password: 'not-the-password' });
    assert.match(refused.error ?? '', /AUTHENTICATIONFAILED|Authentication failed/);
  });

  await t.test('THEN the proxy\'s agent serves Dovecot\'s logins, the failed one, and the proxied sessions', async () => {
    const text = await untilMoved(proxy, [
      ['dovecot_auth_success_total', {}],
      ['dovecot_auth_failure_total', {}],
      ['dovecot_proxy_session_total', {}],
    ]);
    // The IMAPS and POP3S sessions logged in; the failed login did not.
    assert.ok((value(text, proxy, 'dovecot_auth_success_total') ?? 0) >= 2, 'the IMAPS and the POP3S login');
    assert.ok((value(text, proxy, 'dovecot_proxy_session_total') ?? 0) >= 2, 'the IMAPS and the POP3S session');
    assert.equal(value(text, proxy, 'dovecot_auth_failure_total'), 1);
    assert.match(text, /^# TYPE dovecot_auth_failure_total counter$/m);
    assert.equal(value(text, proxy, 'mailfleet_agent_dovecot_scrape_errors_total', { reason: 'connect' }), 0);
    assert.ok((value(text, proxy, 'mailfleet_lmtp_router_deliveries_total', { result: 'delivered' }) ?? 0) >= 1, 'the router\'s series share the output');
  });

  await t.test('THEN the mailbox\'s agent serves IMAP commands by name and reply with their latency, LMTP commands, the delivery and the POP3 session', async () => {
    const text = await untilMoved(mailbox, [
      ['dovecot_auth_success_total', {}],
      ['dovecot_imap_command_total', { cmd_name: 'SELECT', tagged_reply_state: 'OK' }],
      ['dovecot_imap_command_total', { cmd_name: 'FETCH', tagged_reply_state: 'OK' }],
      ['dovecot_imap_command_duration_seconds_count', { cmd_name: 'SELECT' }],
      ['dovecot_imap_command_duration_seconds_bucket', { cmd_name: 'SELECT', le: '+Inf' }],
      ['dovecot_lmtp_command_total', { cmd_name: 'RCPT', status_code: '250' }],
      ['dovecot_mail_delivery_total', {}],
      ['dovecot_pop3_session_total', {}],
    ]);
    assert.match(text, /^# TYPE dovecot_imap_command_total counter$/m);
    assert.match(text, /^# TYPE dovecot_imap_command_duration_seconds histogram$/m);
    // Each group_by level is its own series: the total without labels beside the per-command ones.
    const select = value(text, mailbox, 'dovecot_imap_command_total', { cmd_name: 'SELECT' }) ?? 0;
    assert.equal(select, value(text, mailbox, 'dovecot_imap_command_total', { cmd_name: 'SELECT', tagged_reply_state: 'OK' }));
    assert.ok((value(text, mailbox, 'dovecot_imap_command_total') ?? 0) >= select);
    for (const reason of ['connect', 'timeout', 'oversize', 'response', 'invalid_lines']) {
      assert.equal(value(text, mailbox, 'mailfleet_agent_dovecot_scrape_errors_total', { reason }), 0, reason);
    }
  });

  await t.test('THEN Dovecot serves them on a root-only unix socket in each instance\'s run dir, no TCP port', () => {
    for (const instance of [proxy, mailbox]) {
      const stat = statSync(join(instanceRunDir(platform.stateDir, instance.name), 'http'));
      assert.ok(stat.isSocket(), instance.name);
      assert.equal(stat.mode & 0o777, 0o600, instance.name);
      assert.equal(stat.uid, 0, instance.name);
    }
  });

  await t.test('THEN promtool parses each agent\'s whole output, and finds nothing to say about the relayed series', async () => {
    for (const instance of [proxy, mailbox]) {
      const text = await scrape(instance);
      assert.doesNotMatch(text, /^# EOF/m);
      const r = promtool(text);
      assert.ok(r.code === 0 || r.code === 3, `${instance.name}: exit ${r.code}: ${r.output}`);
      assert.doesNotMatch(r.output, /dovecot_/, `${instance.name}: ${r.output}`);
    }
  });
});
