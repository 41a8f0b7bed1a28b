/**
 * The prober on a real platform (Postfix, Dovecot director and backends, OpenLDAP): its instance runs cycles
 * through msa and mta, reads each message back over IMAPS and POP3S and deletes it; its metrics are on the
 * instance's http port. Then the proxy is frozen (SIGSTOP): the paths fail at the stages that need it,
 * the log says where and why, and they recover when it thaws and when it comes back on a new address.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { staleAfterMs } from '../../src/probe/index.ts';
import { openImapSession } from '../../src/protocol/index.ts';
import { controlRequest, type StatusReport } from '../../src/runtime/local/index.ts';
import { ensureBuilt } from '../support/build.ts';
import { waitQueueEmpty } from '../support/mail.ts';
import { HOSTNAME, instanceProcessGroups, localCaFile, runCli, startPlatform, type Platform } from '../support/platform.ts';
import { until } from '../support/poll.ts';

const POOL = '127.112.0.0/16';
const INTERVAL_S = 5;
const TIMEOUT_S = 4;
const STAGES = ['connect', 'smtp', 'delivery_imap', 'fetch_imap', 'delivery_pop3', 'fetch_pop3'];

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
  });
}

/** `name{labels}` → value, the `role` and `instance` labels left out (they are checked apart). */
async function scrape(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await fetchText(url)).split('\n')) {
    const m = /^(mailfleet_probe_\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter((l) => !/^(role|instance)=/.test(l)).sort().join(',');
    out.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return out;
}

const value = (s: Map<string, number>, key: string): number => s.get(key) ?? NaN;

function logLines(platform: Platform): Record<string, unknown>[] {
  return readFileSync(join(platform.stateDir, 'logs', 'probe-0.log'), 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Messages in the probe account's INBOX, read over IMAPS as a mail client does. */
async function inboxCount(platform: Platform, password: string): Promise<number> {
  const proxy = await platform.instance('proxy-0');
  const session = await openImapSession({ host: proxy.address, port: proxy.ports.imaps as number, timeoutMs: 10_000, tls: platform.clientTls('implicit') });
  try {
    assert.equal((await session.login('probe@example.com', password)).status, 'OK');
    const examined = await session.command('EXAMINE INBOX');
    const exists = examined.untagged.find((r) => r.kind === 'data' && /^\d+ EXISTS$/.test(r.text));
    return Number(exists?.kind === 'data' ? exists.text.split(' ')[0] : NaN);
  } finally {
    await session.logout();
  }
}

test('the prober on a real platform', { timeout: 300_000 }, async (t) => {
  const platform = await startPlatform(t, {
    addressPool: POOL,
    accounts: 1,
    roles: { ldap: 1, kvs: 0, mailbox: 1, proxy: 1, mta: 1, msa: 1 },
    probe: { intervalSeconds: INTERVAL_S, timeoutSeconds: TIMEOUT_S },
    local: { scrapeIntervalSeconds: 2 },
    extra: { drainSeconds: 2 },
  });
  const probe = await platform.instance('probe-0');
  let metrics = `http://${probe.address}:${probe.ports.http as number}/metrics`;
  const secrets = JSON.parse(readFileSync(join(platform.stateDir, 'secrets.json'), 'utf8')) as Record<string, string>;
  const password = secrets['probe-password'] ?? '';
  const work = mkdtempSync('/tmp/mailfleet-test-probe-');
  t.after(() => rmSync(work, { recursive: true, force: true }));

  await t.test('GIVEN the platform up WHEN the probe instance has run THEN both paths succeed and every stage histogram has counts', async () => {
    assert.equal(probe.role, 'probe');
    assert.deepEqual(Object.keys(probe.ports), ['http']);
    const s = await until('both paths to succeed', async () => {
      const got = await scrape(metrics);
      return value(got, 'mailfleet_probe_success{path="msa"}') === 1 && value(got, 'mailfleet_probe_success{path="mta"}') === 1 ? got : undefined;
    }, 30_000, 250);
    for (const path of ['msa', 'mta']) {
      assert.ok(value(s, `mailfleet_probe_runs_total{path="${path}",result="success"}`) >= 1);
      assert.ok(value(s, `mailfleet_probe_duration_seconds_count{path="${path}"}`) >= 1);
      assert.ok(value(s, `mailfleet_probe_last_success_timestamp_seconds{path="${path}"}`) > Date.now() / 1000 - 60);
      for (const stage of STAGES) assert.ok(value(s, `mailfleet_probe_stage_duration_seconds_count{path="${path}",stage="${stage}"}`) >= 1, `${path} ${stage}`);
    }
    assert.match(await fetchText(metrics), /^mailfleet_probe_success\{path="msa",role="probe",instance="probe-0"\} 1$/m);
  });

  await t.test('THEN the single host\'s VictoriaMetrics scrapes it as role probe, and status shows its latency', async () => {
    const statusReport = async (figures: boolean) => (await controlRequest(join(platform.stateDir, 'control.sock'), 'GET', `/v1/status${figures ? '?figures=1' : ''}`)).body as StatusReport;
    const vm = (await statusReport(false)).monitoring?.victoriametrics.url ?? '';
    await until('the probe\'s success in VictoriaMetrics', async () => {
      const q = encodeURIComponent('mailfleet_probe_success{role="probe",instance="probe-0"} == 1');
      const body = (await (await fetch(`${vm}/api/v1/query?query=${q}`, { signal: AbortSignal.timeout(5000) })).json()) as { data: { result: { metric: Record<string, string> }[] } };
      return body.data.result.length === 2 ? true : undefined;
    }, 30_000, 500);
    const latency = await until('the probe latency figure', async () => {
      const row = (await statusReport(true)).figures?.roles.find((r) => r.role === 'probe');
      return row?.probeLatencySeconds ?? undefined;
    }, 30_000, 1000);
    assert.ok(latency > 0 && latency < TIMEOUT_S * 6, String(latency));
  });

  await t.test('THEN it recorded the notAfter of the certificate every endpoint served, the one the platform issued', async () => {
    const s = await scrape(metrics);
    const issued = (JSON.parse(platform.cli(['status', '--json']).stdout) as { certificates: { notAfter: string }[] }).certificates[0]?.notAfter ?? '';
    for (const endpoint of ['msa', 'mta', 'imap', 'pop3']) {
      assert.equal(value(s, `mailfleet_probe_certificate_expiry_timestamp_seconds{endpoint="${endpoint}",servername="${HOSTNAME}"}`), Math.floor(Date.parse(issued) / 1000), endpoint);
    }
  });

  await t.test('WHEN an operator runs "mailfleet probe --once --json | jq" THEN one cycle goes through, stage by stage, exit 0', () => {
    const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(ensureBuilt())}`;
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${cli} probe --once --json --state-dir ${platform.stateDir} | jq -r '.paths[] | "\\(.path) \\(.ok) \\(.stages | keys | length)"'`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['msa true 6', 'mta true 6']);
  });

  await t.test('WHEN it probes an address no account has, given every endpoint by flag THEN exit 1 and the summary holds the mta\'s refusal at the smtp stage', async () => {
    const [mta, proxy] = [await platform.instance('mta-0'), await platform.instance('proxy-0')];
    const passwordFile = join(work, 'password');
    writeFileSync(passwordFile, 'not-the-password\n', { mode: 0o600 });
    const r = runCli([
      'probe', '--once', '--json', '--name', 'operator',
      '--mta', `${mta.address}:${mta.ports.smtp as number}`,
      '--imap', `${proxy.address}:${proxy.ports.imaps as number}`, '--pop3', `${proxy.address}:${proxy.ports.pop3s as number}`,
      '--account', 'nobody@example.com', '--password-file', passwordFile, '--ca-file', localCaFile(platform.stateDir), '--servername', HOSTNAME,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const summary = JSON.parse(r.stdout) as { ok: boolean; paths: { path: string; failure?: { stage: string; code: string; reply?: string } }[] };
    assert.equal(summary.ok, false);
    assert.deepEqual(summary.paths.map((p) => [p.path, p.failure?.stage, p.failure?.code]), [['mta', 'smtp', 'REFUSED']]);
    assert.match(summary.paths[0]?.failure?.reply ?? '', /^550 .*nobody@example\.com/);
    assert.match(r.stderr, /"msg":"probe stage failed"/, 'its log went to stderr');
  });

  await t.test('WHEN the proxy is frozen (SIGSTOP) THEN both paths fail, counted at the stages that need it, and the log names stage and error; thawed, they succeed again', async () => {
    // The proxy's agent (with the LMTP router) leads one process group, the Dovecot it started another.
    const proxyGroups = instanceProcessGroups((await platform.instance('proxy-0')).pid as number);
    assert.ok(proxyGroups.length >= 2, `the agent's group and Dovecot's: ${proxyGroups.join(', ')}`);
    const signalProxy = (signal: NodeJS.Signals) => proxyGroups.forEach((g) => process.kill(-g, signal));
    const before = await scrape(metrics);
    signalProxy('SIGSTOP');
    try {
      // The msa asks Dovecot's auth service in the proxy at EHLO (a new smtpd) or at AUTH (one that has asked before).
      const msaStage = (got: Map<string, number>) => value(got, 'mailfleet_probe_failures_total{path="msa",stage="smtp"}') + value(got, 'mailfleet_probe_failures_total{path="msa",stage="connect"}');
      const s = await until('failures at the stages that reach the proxy', async () => {
        const got = await scrape(metrics);
        return msaStage(got) >= 1 && value(got, 'mailfleet_probe_failures_total{path="mta",stage="delivery_imap"}') >= 1 ? got : undefined;
      }, 60_000, 500);
      assert.equal(value(s, 'mailfleet_probe_success{path="msa"}'), 0);
      assert.equal(value(s, 'mailfleet_probe_success{path="mta"}'), 0);
      assert.ok(value(s, 'mailfleet_probe_runs_total{path="msa",result="failure"}') > value(before, 'mailfleet_probe_runs_total{path="msa",result="failure"}'));
      const failed = logLines(platform).filter((l) => l.msg === 'probe stage failed');
      assert.ok(failed.some((l) => l.path === 'msa' && (l.stage === 'smtp' || l.stage === 'connect') && l.code === 'DEADLINE' && /did not finish within 4000 ms/.test(String(l.err))), JSON.stringify(failed.slice(-4)));
      // The mta takes the mail; IMAP then waits for a greeting that never comes.
      assert.ok(failed.some((l) => l.path === 'mta' && l.stage === 'delivery_imap' && typeof l.address === 'string' && typeof l.tag === 'string'), JSON.stringify(failed.slice(-4)));
    } finally {
      signalProxy('SIGCONT');
    }
    const since = Date.now() / 1000;
    await until('both paths to succeed again', async () => {
      const s = await scrape(metrics);
      const ok = ['msa', 'mta'].every((p) => value(s, `mailfleet_probe_success{path="${p}"}`) === 1 && value(s, `mailfleet_probe_last_success_timestamp_seconds{path="${p}"}`) >= Math.floor(since));
      return ok ? true : undefined;
    }, 60_000, 500);
  });

  await t.test('WHEN the proxy restarts on a new address THEN the prober follows it and succeeds there', async () => {
    const old = (await platform.instance('proxy-0')).address;
    const r = platform.cli(['restart', 'proxy']);
    assert.equal(r.code, 0, r.stderr);
    const moved = (await platform.instance('proxy-0')).address;
    assert.notEqual(moved, old);
    const since = Date.now() / 1000;
    await until('a success through the moved proxy', async () => {
      const s = await scrape(metrics);
      return ['msa', 'mta'].every((p) => value(s, `mailfleet_probe_last_success_timestamp_seconds{path="${p}"}`) >= Math.floor(since)) ? true : undefined;
    }, 60_000, 500);
  });

  await t.test('WHEN the probe account is removed and ldap restarts THEN slapd\'s start makes it again, and the prober goes through', async () => {
    const removed = platform.cli(['accounts', 'remove', 'probe@example.com']);
    assert.equal(removed.code, 0, removed.stderr);
    const restarted = platform.cli(['restart', 'ldap']);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.match(platform.cli(['accounts', 'list']).stdout, /^probe@example\.com\s+10 MiB$/m);
    const since = Date.now() / 1000;
    await until('a success with the account made again', async () => {
      const s = await scrape(metrics);
      return ['msa', 'mta'].every((p) => value(s, `mailfleet_probe_last_success_timestamp_seconds{path="${p}"}`) >= Math.floor(since)) ? true : undefined;
    }, 60_000, 500);
  });

  await t.test('WHEN the probe instance is restarted THEN it stops on SIGTERM, comes back on a new address and runs its cycles there', async () => {
    const before = await platform.instance('probe-0');
    const r = platform.cli(['restart', 'probe']);
    assert.equal(r.code, 0, r.stderr);
    const after = await platform.instance('probe-0');
    assert.notEqual(after.address, before.address);
    assert.equal(after.restarts, 0, 'a restart asked for is no crash');
    assert.ok(logLines(platform).some((l) => l.msg === 'prober stopped'), 'the loop ended before the process did');
    const moved = `http://${after.address}:${after.ports.http as number}/metrics`;
    await until('a cycle of the new prober', async () => (value(await scrape(moved), 'mailfleet_probe_runs_total{path="msa",result="success"}') >= 1 ? true : undefined), 30_000, 250);
    metrics = moved;
  });

  await t.test('THEN no probe message stays: each cycle deletes its own, and those of the failed cycles are removed once stale', async () => {
    await until('the stale messages of the frozen cycles to be removed', async () => (logLines(platform).some((l) => l.msg === 'stale probe messages removed' && Number(l.removed) >= 1) ? true : undefined), 90_000, 1000);
    // Between two cycles the mailbox is empty; a prober that left its mail would never see it so. The frozen
    // cycles left messages until the thaw, however long the freeze took; each goes at the first cycle after it
    // is stale: the last one at most staleAfterMs (33 s here) and a cycle or two after it was delivered. A
    // message Postfix deferred while the proxy moved or the account was gone comes at a retry (10 s, 20 s, …
    // later), and is stale counted from then: the wait starts once no message waits in a queue.
    for (const instance of ['mta-0', 'msa-0']) await waitQueueEmpty(join(platform.stateDir, 'instances', instance, 'config'));
    const lastStaleMs = staleAfterMs({ intervalMs: INTERVAL_S * 1000, timeoutMs: TIMEOUT_S * 1000 }) + 3 * INTERVAL_S * 1000;
    await until('an empty probe mailbox', async () => ((await inboxCount(platform, password)) === 0 ? true : undefined), lastStaleMs, 300);
  });
});
