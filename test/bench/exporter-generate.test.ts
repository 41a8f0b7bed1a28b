import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generate, longLines } from '../../bench/exporter/generate.ts';
import { KINDS, type Kind, type Totals } from '../../bench/exporter/kinds.ts';

const LINES = 20_000;

function run(seed: number, lines = LINES): { bytes: Buffer; totals: Totals } {
  const chunks: Buffer[] = [];
  const totals = generate({ lines, seed }, (c) => chunks.push(c));
  return { bytes: Buffer.concat(chunks), totals };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const QID = '[0-9A-F]{10,11}';

/** What each well-formed message says, by program (the last part of the syslog tag); written apart from the generator. */
const PATTERNS: Record<string, [RegExp, Kind][]> = {
  smtpd: [
    [/^connect from \S+$/, 'smtpd_connect'],
    [/^disconnect from \S+( [a-z]+=\d+(\/\d+)?)+$/, 'smtpd_disconnect'],
    [/^lost connection after ([A-Z]+)( \(\d+ bytes\))? from \S+$/, 'smtpd_lost'],
    [new RegExp(`^${QID}: client=\\S+(, sasl_method=[A-Z]+, sasl_username=\\S+)?$`), 'smtpd_client'],
    [new RegExp(`^(NOQUEUE|${QID}): reject: ([A-Z-]+) from \\S+: [45]\\d\\d [^;]+;( from=<[^>]*>)?( to=<[^>]*>)? proto=E?SMTP( helo=<[^>]*>)?$`), 'smtpd_reject'],
    [/^warning: \S+: SASL (LOGIN|PLAIN) authentication failed: .+, sasl_username=\S+$/, 'smtpd_sasl_failure'],
    [/^(Anonymous|Untrusted|Trusted) TLS connection established from \S+: TLSv1\.[23] with cipher \S+ \(\d+\/\d+ bits\)/, 'smtpd_tls'],
    [/^warning: hostname \S+ does not resolve to address \S+: Name or service not known$/, 'smtpd_fcrdns'],
    [/^(timeout|too many errors) after [A-Z]+( \(\d+ bytes\))? from \S+$/, 'other'],
    [/^(improper command pipelining after |warning: non-SMTP command from |warning: TLS library problem: |SSL_accept error from |warning: Connection concurrency limit exceeded: )/, 'other'],
  ],
  cleanup: [
    [new RegExp(`^${QID}: message-id=<[^>]+>$`), 'cleanup_message_id'],
    [new RegExp(`^${QID}: reject: header .+: 5\\.7\\.1 Message content rejected$`), 'cleanup_reject'],
  ],
  qmgr: [
    [new RegExp(`^${QID}: from=<[^>]*>, size=\\d+, nrcpt=\\d+ \\(queue active\\)$`), 'qmgr_inserted'],
    [new RegExp(`^${QID}: removed$`), 'qmgr_removed'],
    [new RegExp(`^${QID}: from=<[^>]*>, status=expired, returned to sender$`), 'qmgr_expired'],
  ],
  smtp: [
    [/^(Verified|Trusted|Untrusted|Anonymous) TLS connection established to \S+:25: TLSv1\.[23] with cipher /, 'smtp_tls'],
    [/^connect to \S+:25: Connection timed out$/, 'smtp_timeout'],
  ],
  bounce: [[new RegExp(`^${QID}: sender non-delivery notification: ${QID}$`), 'bounce_notification']],
  anvil: [[/^statistics: max (connection rate \d+\/60s|connection count \d+) for \(smtp:\S+\) at [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$|^statistics: max cache size \d+ at /, 'other']],
  scache: [[/^statistics: domain lookup /, 'other']],
  master: [[/^daemon started -- version 3\.7\.11, /, 'other']],
};
const DELIVERY = new RegExp(`^(${QID}): to=<[^>]+>, relay=\\S+, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=\\d\\.\\d\\.\\d, status=(sent|deferred|bounced) \\(.+\\)$`);
const PREFIX = {
  maillog: /^[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d mail /,
  syslog: /^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d mail /,
  rfc3339: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 mail /,
};
const TAGGED = /^((postfix(?:-mx)?)(?:\/[a-z]+)*\/([a-z]+))\[\d+\]: (.*)$/;

interface Census {
  lines: number;
  bytes: number;
  kinds: Record<string, number>;
  hostile: number;
  tags: Record<string, number>;
  formats: Record<string, number>;
  rejectStages: Record<string, number>;
  lostStages: Record<string, number>;
  deliveries: Record<string, number>;
  insertedBytes: number;
  insertedRecipients: number;
  /** Deliveries and `removed` lines whose queue id no earlier qmgr line of the same instance took up. */
  orphans: string[];
  unclassified: string[];
}

/** Classifies every line of a generated log without the generator's help. */
function census(bytes: Buffer): Census {
  const c: Census = { lines: 0, bytes: bytes.length, kinds: {}, hostile: 0, tags: {}, formats: {}, rejectStages: {}, lostStages: {}, deliveries: {}, insertedBytes: 0, insertedRecipients: 0, orphans: [], unclassified: [] };
  const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);
  const queued = new Set<string>();
  const text = bytes.toString('latin1');
  assert.equal(text.at(-1), '\n', 'the log ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    c.lines++;
    if (line.length >= 16 * 1024) {
      bump(c.kinds, 'long');
      continue;
    }
    // Well-formed lines are printable ASCII; so is the start of a truncated line, which never reaches a full tag and message.
    const format = Object.entries(PREFIX).find(([, re]) => re.test(line))?.[0];
    const tagged = /^[\x20-\x7e]*$/.test(line) && format ? TAGGED.exec(line.replace(PREFIX[format as keyof typeof PREFIX], '')) : null;
    if (!tagged || tagged[4] === undefined || tagged[4].length < 4) {
      c.hostile++;
      continue;
    }
    const [, tag, instance, program, message] = tagged as unknown as [string, string, string, string, string];
    let kind: Kind | undefined;
    const delivery = ['lmtp', 'smtp', 'error'].includes(program) ? DELIVERY.exec(message) : null;
    if (delivery) {
      kind = 'delivery';
      bump(c.deliveries, `${program}/${delivery[2]}`);
      if (!queued.has(`${instance} ${delivery[1]}`)) c.orphans.push(line);
    } else {
      kind = PATTERNS[program]?.find(([re]) => re.test(message))?.[1];
    }
    if (kind === undefined) {
      c.unclassified.push(line);
      continue;
    }
    const qid = /^([0-9A-F]{10,11}): /.exec(message)?.[1];
    if (kind === 'qmgr_inserted') {
      queued.add(`${instance} ${qid}`);
      const [, size, nrcpt] = /size=(\d+), nrcpt=(\d+)/.exec(message) as unknown as [string, string, string];
      c.insertedBytes += Number(size);
      c.insertedRecipients += Number(nrcpt);
    }
    if (kind === 'qmgr_removed' && !queued.has(`${instance} ${qid}`)) c.orphans.push(line);
    if (kind === 'smtpd_reject') bump(c.rejectStages, / reject: ([A-Z-]+) from /.exec(message)?.[1] ?? '?');
    if (kind === 'smtpd_lost') bump(c.lostStages, /after ([A-Z]+)/.exec(message)?.[1] ?? '?');
    bump(c.kinds, kind);
    bump(c.tags, tag);
    bump(c.formats, format as string);
  }
  return c;
}

describe('exporter bench: log generator', () => {
  it('GIVEN one seed WHEN the log is generated twice THEN the bytes and totals are the same', () => {
    const a = run(42);
    const b = run(42);
    assert.equal(sha(a.bytes), sha(b.bytes));
    assert.deepEqual(a.totals, b.totals);
  });

  it('GIVEN one seed WHEN another process generates the log with the CLI THEN it writes the same bytes', () => {
    const cli = fileURLToPath(new URL('../../bench/exporter/generate.ts', import.meta.url));
    const child = spawnSync(process.execPath, [cli, '--lines', '3000', '--seed', '5'], { maxBuffer: 64 * 1024 * 1024 });
    assert.equal(child.status, 0, child.stderr.toString());
    assert.equal(sha(child.stdout), sha(run(5, 3000).bytes));
    assert.equal(JSON.parse(child.stderr.toString()).lines, 3000);
  });

  it('GIVEN another seed THEN the log differs', () => {
    assert.notEqual(sha(run(42).bytes), sha(run(43).bytes));
  });

  it('GIVEN a generated log WHEN every line is classified independently THEN the totals match what was written', () => {
    const { bytes, totals } = run(7);
    const c = census(bytes);
    assert.deepEqual(c.unclassified.slice(0, 5), [], 'every printable tagged line is one of the known kinds');
    assert.equal(c.lines, LINES);
    assert.equal(totals.lines, LINES);
    assert.equal(totals.bytes, bytes.length);
    for (const k of KINDS.filter((k) => !['noise', 'invalid_utf8', 'truncated'].includes(k))) assert.equal(c.kinds[k] ?? 0, totals.kinds[k], `kind ${k}`);
    assert.equal(c.hostile, totals.kinds.noise + totals.kinds.invalid_utf8 + totals.kinds.truncated, 'noise, invalid UTF-8 and truncated lines');
    assert.deepEqual(c.tags, totals.tags);
    assert.deepEqual(c.formats, Object.fromEntries(Object.entries(totals.formats).filter(([, n]) => n > 0)));
    assert.deepEqual(c.rejectStages, totals.rejectStages);
    assert.deepEqual(c.lostStages, totals.lostStages);
    assert.deepEqual(c.deliveries, totals.deliveries);
    assert.equal(c.insertedBytes, totals.insertedBytes);
    assert.equal(c.insertedRecipients, totals.insertedRecipients);
  });

  it('GIVEN a generated log THEN every delivery and removal follows qmgr taking that queue id up, in the same instance', () => {
    const c = census(run(11).bytes);
    assert.deepEqual(c.orphans.slice(0, 5), []);
    assert.ok((c.kinds.delivery ?? 0) > 1000);
  });

  it('GIVEN a generated log THEN it mixes every kind, the submission services, the second instance and a 1 MiB line', () => {
    const { bytes, totals } = run(3);
    for (const k of KINDS) assert.ok(totals.kinds[k] > 0, `some ${k} lines`);
    for (const tag of ['postfix/submission/smtpd', 'postfix/submissions/smtpd', 'postfix/mailout/smtpd', 'postfix-mx/smtpd', 'postfix-mx/qmgr']) assert.ok((totals.tags[tag] ?? 0) > 0, tag);
    for (const stage of ['RCPT', 'MAIL', 'DATA', 'END-OF-MESSAGE', 'CONNECT', 'EHLO']) assert.ok((totals.rejectStages[stage] ?? 0) > 0, `rejects at ${stage}`);
    assert.equal(totals.kinds.long, longLines(LINES));
    const lengths = bytes.toString('latin1').split('\n').map((l) => l.length);
    assert.equal(Math.max(...lengths), 1024 * 1024);
    assert.ok(bytes.includes(Buffer.from([0xc3, 0x28])) || bytes.includes(Buffer.from([0xff])), 'invalid UTF-8 bytes are in the log');
  });
});
