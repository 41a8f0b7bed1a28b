/**
 * Where an msa on one host has its logins checked: the Dovecot auth of the proxy its ordinal picks (msa-0 proxy-0,
 * msa-1 proxy-1), not proxy-0 for every msa. Read where the check happens: each proxy's count of successful logins
 * (`dovecot_auth_success_total` on its agent's /metrics).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { openSmtpSession } from '../../src/protocol/index.ts';
import { DOMAIN, instanceProcessGroups, startPlatform, type InstanceStatus, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.147.0.0/16';
const PASSWORD = 'msa-sasl-password';
/** Dovecot's processes report their events to its stats process asynchronously: a short wait at most. */
const EVENTS_DEADLINE_MS = 30_000;

/** The proxy's count of successful logins (absent: none yet). */
async function logins(proxy: InstanceStatus): Promise<number> {
  const text = await (await fetch(`http://${proxy.address}:${proxy.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = new RegExp(`^dovecot_auth_success_total\\{[^}]*instance="${proxy.name}"[^}]*\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The login outcomes the policy instance has been told of by the proxies' Dovecot (its auth policy reports). */
async function reportedLogins(policy: InstanceStatus): Promise<number> {
  const text = await (await fetch(`http://${policy.address}:${policy.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = /^mailfleet_policy_auth_requests_total\{command="report",verdict="reported"[^}]*\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The msa relay's count of sessions carried over to a new proxy connection between logins. */
async function resumedSessions(msa: InstanceStatus): Promise<number> {
  const text = await (await fetch(`http://${msa.address}:${msa.ports.http}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const m = /^mailfleet_auth_relay_client_connections_total\{[^}]*result="resumed"[^}]*\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Kills the `auth` processes of an instance's Dovecot (its master starts another when a client connects); how many. */
function killDovecotAuth(instance: InstanceStatus): number {
  assert.ok(instance.pid !== null, `${instance.name} has an agent`);
  const groups = new Set(instanceProcessGroups(instance.pid));
  let killed = 0;
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces, so read after its closing parenthesis.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (comm !== 'auth' || !groups.has(pgrp)) continue;
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // gone meanwhile
    }
  }
  return killed;
}

/** AUTH PLAIN on the msa's port 465; resolves with the reply code. */
async function logIn(platform: Platform, msa: InstanceStatus): Promise<number> {
  const smtp = await openSmtpSession({ host: msa.address, port: msa.ports.submissions as number, heloName: 'client.test', timeoutMs: 20_000, tls: platform.clientTls('implicit') });
  try {
    return (await smtp.authPlain(`user1@${DOMAIN}`, PASSWORD)).code;
  } finally {
    await smtp.quit();
  }
}

test('msa SASL on one host with two msas and two proxies', { timeout: 600_000 }, async (t) => {
  // The policy server without Postfix rules: it runs for the proxies' login checks alone.
  const platform = await startPlatform(t, { addressPool: POOL, accounts: 1, password: PASSWORD, roles: { mailbox: 1, proxy: 2, mta: 0, msa: 2 }, policy: { rules: [] } });
  const proxies = [await platform.instance('proxy-0'), await platform.instance('proxy-1')];
  const policy = await platform.instance('policy-0');
  const reportedBefore = await reportedLogins(policy);

  for (const ordinal of [1, 0]) {
    await t.test(`WHEN a user logs in on msa-${ordinal} THEN proxy-${ordinal} checks the password and the other proxy does not`, async () => {
      const msa = await platform.instance(`msa-${ordinal}`);
      const before = await Promise.all(proxies.map(logins));

      assert.equal(await logIn(platform, msa), 235);

      const own = proxies[ordinal] as InstanceStatus;
      await until(`${own.name} to count the login`, async () => ((await logins(own)) > (before[ordinal] ?? 0) ? true : undefined), EVENTS_DEADLINE_MS, 250);
      const after = await Promise.all(proxies.map(logins));
      assert.equal(after[ordinal], (before[ordinal] ?? 0) + 1, `${own.name}: one login more`);
      assert.equal(after[1 - ordinal], before[1 - ordinal], `proxy-${1 - ordinal}: no login`);
    });
  }

  await t.test('GIVEN msa-0\'s smtpd holding its auth connection WHEN proxy-0\'s Dovecot auth process dies between logins THEN the next logins succeed, the relay carrying the session over a new connection', async () => {
    const msa = await platform.instance('msa-0');
    assert.equal(await logIn(platform, msa), 235);
    const resumedBefore = await resumedSessions(msa);
    assert.ok(killDovecotAuth(proxies[0] as InstanceStatus) > 0, 'proxy-0 had a Dovecot auth process');
    // Before, the smtpd that served the login above found its connection closed at the next AUTH: 535.
    for (let i = 0; i < 3; i++) assert.equal(await logIn(platform, msa), 235, `login ${i + 1} after the auth process died`);
    assert.ok((await resumedSessions(msa)) > resumedBefore, 'an smtpd\'s session was carried over, not opened anew');
  });

  await t.test('WHEN users logged in on the msas THEN each proxy told the policy server (SMTP AUTH is under the login brute-force rules too)', async () => {
    await until('the policy server to hear of both logins', async () => ((await reportedLogins(policy)) >= reportedBefore + 2 ? true : undefined), EVENTS_DEADLINE_MS, 250);
  });
});
