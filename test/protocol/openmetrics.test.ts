import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { MAX_OPENMETRICS_LINE_CHARS, openMetricsToPrometheus } from '../../src/protocol/openmetrics.ts';
import { noise } from './chunks.ts';

/** What Dovecot 2.3.19 served with the generated configs (src/config/dovecot-stats.ts), after logins, IMAP, POP3 and deliveries. */
const PROXY = readFileSync(new URL('./fixtures/dovecot-2.3.19-proxy.openmetrics', import.meta.url), 'utf8');
const MAILBOX = readFileSync(new URL('./fixtures/dovecot-2.3.19-mailbox.openmetrics', import.meta.url), 'utf8');
/** What rspamd 3.4's controller served (`/metrics`) right after start: its counters' family names end in `_total`. */
const RSPAMD = readFileSync(new URL('./fixtures/rspamd-3.4.openmetrics', import.meta.url), 'utf8');
const AGENT = { labels: { role: 'mailbox', instance: 'mailbox-0' }, namePrefix: 'dovecot_' };

const PROMTOOL = ((): string | undefined => {
  try {
    accessSync('/usr/bin/promtool', constants.X_OK);
    return '/usr/bin/promtool';
  } catch {
    return undefined;
  }
})();
const NO_PROMTOOL = PROMTOOL === undefined ? 'promtool is not installed (Debian package prometheus)' : false;

/** promtool's verdict on Prometheus text: it exits 1 on a parse error, 3 on lint findings only (which it prints). */
function promtool(text: string): { code: number; output: string } {
  const r = spawnSync(PROMTOOL as string, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const samples = (text: string): string[] => lines(text).filter((l) => !l.startsWith('#'));

test('GIVEN the proxy\'s real output WHEN converted THEN counters are typed and described under their _total name, with the agent\'s labels', () => {
  const { text, invalidLines } = openMetricsToPrometheus(PROXY, { ...AGENT, labels: { role: 'proxy', instance: 'proxy-0' } });
  assert.equal(invalidLines, 0);
  assert.deepEqual(lines(text).filter((l) => l.includes('auth_failure')), [
    '# HELP dovecot_auth_failure_total Total number of all events of this kind',
    '# TYPE dovecot_auth_failure_total counter',
    'dovecot_auth_failure_total{role="proxy",instance="proxy-0"} 2',
    '# HELP dovecot_auth_failure_duration_seconds_total Total duration of all events of this kind',
    '# TYPE dovecot_auth_failure_duration_seconds_total counter',
    'dovecot_auth_failure_duration_seconds_total{role="proxy",instance="proxy-0"} 0.091912',
  ]);
  assert.ok(lines(text).includes('dovecot_proxy_session_total{role="proxy",instance="proxy-0"} 8'));
  assert.equal(lines(text).filter((l) => l.startsWith('# TYPE') && !l.endsWith('_total counter')).length, 2, 'only the start time and build info are not counters');
});

test('GIVEN the mailbox\'s real output WHEN converted THEN the total Dovecot prints as _count and _sum in a counter with group_by becomes the unlabelled _total', () => {
  const { text } = openMetricsToPrometheus(MAILBOX, AGENT);
  assert.match(MAILBOX, /^dovecot_imap_command_count 21$/m);
  assert.match(MAILBOX, /^dovecot_lmtp_command_duration_seconds_sum 0\.046937$/m);
  assert.match(text, /^dovecot_imap_command_total\{role="mailbox",instance="mailbox-0"\} 21$/m);
  assert.match(text, /^dovecot_imap_command_total\{cmd_name="SELECT",role="mailbox",instance="mailbox-0"\} 8$/m);
  assert.match(text, /^dovecot_lmtp_command_duration_seconds_total\{role="mailbox",instance="mailbox-0"\} 0\.046937$/m);
  assert.doesNotMatch(text, /^dovecot_(imap|lmtp)_command(_duration_seconds)?_(count|sum) /m);
});

test('GIVEN the real output WHEN converted THEN # EOF is gone, the info family is a gauge and the stats start time is Dovecot\'s', () => {
  const { text } = openMetricsToPrometheus(PROXY, AGENT);
  assert.doesNotMatch(text, /EOF/);
  assert.match(text, /^# TYPE dovecot_build_info gauge\ndovecot_build_info\{version="2\.3\.19\.1",revision="9b53102964",role="mailbox",instance="mailbox-0"\} 1$/m);
  assert.match(text, /^# TYPE dovecot_process_start_time_seconds gauge\ndovecot_process_start_time_seconds\{role="mailbox",instance="mailbox-0"\} \d+$/m);
  assert.doesNotMatch(text, /^process_start_time_seconds/m);
});

test('GIVEN the mailbox\'s real output WHEN converted THEN every sample is kept once, with the agent\'s labels, and the histogram beside the counter of the same stem', () => {
  const { text, invalidLines } = openMetricsToPrometheus(MAILBOX, AGENT);
  assert.equal(invalidLines, 0);
  assert.equal(samples(text).length, samples(MAILBOX).length);
  for (const s of samples(text)) assert.match(s, /\{(?:[^}]*,)?role="mailbox",instance="mailbox-0"\} \S+$/, s);
  assert.match(text, /^# TYPE dovecot_imap_command_total counter$/m);
  assert.match(text, /^dovecot_imap_command_total\{cmd_name="FETCH",tagged_reply_state="BAD",role="mailbox",instance="mailbox-0"\} 2$/m);
  assert.match(text, /^# TYPE dovecot_imap_command_duration_seconds_total counter$/m);
  assert.match(text, /^# TYPE dovecot_imap_command_duration_seconds histogram$/m);
  assert.match(text, /^dovecot_imap_command_duration_seconds_bucket\{cmd_name="SELECT",le="\+Inf",role="mailbox",instance="mailbox-0"\} 8$/m);
  assert.match(text, /^dovecot_imap_command_duration_seconds_count\{cmd_name="SELECT",role="mailbox",instance="mailbox-0"\} 8$/m);
  assert.match(text, /^dovecot_imap_command_duration_seconds_sum\{cmd_name="SELECT",role="mailbox",instance="mailbox-0"\} 0\.053330$/m);
  assert.match(text, /^dovecot_lmtp_command_total\{cmd_name="RCPT",status_code="250",role="mailbox",instance="mailbox-0"\} 2$/m);
  assert.match(text, /^dovecot_mail_delivery_total\{role="mailbox",instance="mailbox-0"\} 2$/m);
  assert.match(text, /^dovecot_pop3_session_total\{role="mailbox",instance="mailbox-0"\} 2$/m);
  // Families stay together: no family's TYPE line appears twice.
  const types = lines(text).filter((l) => l.startsWith('# TYPE'));
  assert.equal(new Set(types.map((l) => l.split(' ')[2])).size, types.length);
});

test('GIVEN both real outputs WHEN converted THEN promtool accepts them without a lint finding', { skip: NO_PROMTOOL }, () => {
  for (const input of [PROXY, MAILBOX]) {
    const r = promtool(openMetricsToPrometheus(input, AGENT).text);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), '', r.output);
  }
});

test('GIVEN rspamd\'s real output WHEN converted THEN its counters, whose family names already end in _total, stay typed and described under that name', { skip: NO_PROMTOOL }, () => {
  const { text, invalidLines } = openMetricsToPrometheus(RSPAMD, { labels: { role: 'as', instance: 'as-0' }, namePrefix: 'rspamd_' });
  assert.equal(invalidLines, 0);
  assert.deepEqual(lines(text).filter((l) => l.includes('rspamd_scanned')), [
    '# HELP rspamd_scanned_total Scanned messages.',
    '# TYPE rspamd_scanned_total counter',
    'rspamd_scanned_total{role="as",instance="as-0"} 0',
  ]);
  for (const name of ['rspamd_learned_total', 'rspamd_spam_total', 'rspamd_ham_total', 'rspamd_learns_total']) assert.match(text, new RegExp(`^# TYPE ${name} counter$`, 'm'), name);
  // The one finding left is rspamd's own name for a gauge, which the relay does not rename.
  const r = promtool(text);
  assert.equal(r.code, 3, r.output);
  assert.deepEqual(lines(r.output), ['rspamd_control_connections_total non-counter metrics should not have "_total" suffix']);
});

/** Small inputs: what goes in, what must come out (samples and metadata, in order), how many lines are invalid. */
const CASES: readonly { given: string; input: string; out: string[]; invalid?: number }[] = [
  { given: 'an empty input', input: '', out: [] },
  { given: 'only # EOF', input: '# EOF\n', out: [] },
  { given: 'a family with no samples', input: '# HELP x_y Nothing.\n# TYPE x_y counter\n# EOF\n', out: [] },
  { given: 'lines after # EOF', input: '# TYPE a gauge\na 1\n# EOF\nb 2\n', out: ['# TYPE a gauge', 'a 1'] },
  { given: 'CRLF line ends', input: '# TYPE a gauge\r\na 1\r\n', out: ['# TYPE a gauge', 'a 1'] },
  { given: 'a timestamp and an exemplar', input: '# TYPE c counter\nc_total 5 1700000000.5 # {trace_id="x y"} 1 1700000000\n', out: ['# TYPE c_total counter', 'c_total 5'] },
  { given: 'a counter family named with _total, its sample too', input: '# HELP c_total Seen.\n# TYPE c_total counter\nc_total 5\nc_total_created 1\n', out: ['# HELP c_total Seen.', '# TYPE c_total counter', 'c_total 5'] },
  { given: '_created samples', input: '# TYPE c counter\nc_total 5\nc_created 1700000000\n', out: ['# TYPE c_total counter', 'c_total 5'] },
  { given: 'a # UNIT line and a comment', input: '# TYPE t_seconds gauge\n# UNIT t_seconds seconds\n# just a remark\nt_seconds 0.5\n', out: ['# TYPE t_seconds gauge', 't_seconds 0.5'] },
  { given: 'special values', input: '# TYPE g gauge\ng{a="1"} +Inf\ng{a="2"} -Inf\ng{a="3"} NaN\ng{a="4"} -1.5e-3\n', out: ['# TYPE g gauge', 'g{a="1"} +Inf', 'g{a="2"} -Inf', 'g{a="3"} NaN', 'g{a="4"} -1.5e-3'] },
  { given: 'HELP with OpenMetrics escapes', input: '# HELP h Say \\"hi\\" \\\\ now\\nthen.\n# TYPE h gauge\nh 1\n', out: ['# HELP h Say "hi" \\\\ now\\nthen.', '# TYPE h gauge', 'h 1'] },
  { given: 'escaped label values', input: '# TYPE e gauge\ne{v="a\\"b\\\\c\\nd, } #"} 1\n', out: ['# TYPE e gauge', 'e{v="a\\"b\\\\c\\nd, } #"} 1'] },
  { given: 'a stateset, an unknown and a summary', input: '# TYPE s stateset\ns{s="a"} 1\n# TYPE u unknown\nu 3\n# TYPE q summary\nq{quantile="0.5"} 1\nq_sum 2\nq_count 3\nq_created 4\n', out: ['# TYPE s gauge', 's{s="a"} 1', '# TYPE u untyped', 'u 3', '# TYPE q summary', 'q{quantile="0.5"} 1', 'q_sum 2', 'q_count 3'] },
  { given: 'a gauge histogram (no 0.0.4 form)', input: '# HELP gh Queue.\n# TYPE gh gaugehistogram\ngh_bucket{le="+Inf"} 2\ngh_gcount 2\ngh_gsum 5\n', out: ['gh_bucket{le="+Inf"} 2', 'gh_gcount 2', 'gh_gsum 5'] },
  { given: 'a sample outside the family described', input: '# TYPE a gauge\na 1\nb_total 2\n', out: ['# TYPE a gauge', 'a 1', 'b_total 2'] },
  { given: 'a family described twice with samples between', input: '# TYPE a gauge\na{x="1"} 1\n# TYPE a gauge\na{x="2"} 2\n', out: ['# TYPE a gauge', 'a{x="1"} 1', 'a{x="2"} 2'] },
  { given: 'one name as a counter and as a histogram (two Dovecot metrics)', input: '# TYPE d counter\nd_total 1\nd_sum 3\n# TYPE d histogram\nd_bucket{le="+Inf"} 1\nd_sum 3\nd_count 1\n', out: ['# TYPE d_total counter', 'd_total 1', '# TYPE d histogram', 'd_bucket{le="+Inf"} 1', 'd_sum 3', 'd_count 1'], invalid: 1 },
  { given: 'one name typed twice, differently', input: '# TYPE a gauge\na 1\n# TYPE a counter\na_total 2\n', out: ['# TYPE a gauge', 'a 1', '# TYPE a_total counter', 'a_total 2'] },
  { given: 'a series repeated', input: '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', out: ['# TYPE a gauge', 'a{x="1"} 1'], invalid: 1 },
  { given: 'a sample without a value', input: '# TYPE a gauge\na{x="1"}\na\n', out: [], invalid: 2 },
  { given: 'a value that is not a number', input: 'a 0x1F\nb 1_000\nc one\nd 1 2 3\n', out: [], invalid: 4 },
  { given: 'a truncated label set', input: 'a{x="1" 1\nb{x="1\nc{x=1} 1\nd{="1"} 1\ne{x="1",x="2"} 1\n', out: [], invalid: 5 },
  { given: 'a bad escape in a label value', input: 'a{x="\\t"} 1\n', out: [], invalid: 1 },
  { given: 'bad names', input: '1a 1\na-b 1\n# TYPE 9x gauge\n# TYPE ok bogus\n# HELP bad\\q x\n', out: [], invalid: 5 },
  { given: 'a bad escape in HELP', input: '# HELP a one \\t two\n# TYPE a gauge\na 1\n', out: ['# TYPE a gauge', 'a 1'], invalid: 1 },
  { given: 'an over-long line', input: `# TYPE a gauge\na{x="${'y'.repeat(MAX_OPENMETRICS_LINE_CHARS)}"} 1\na{x="z"} 2\n`, out: ['# TYPE a gauge', 'a{x="z"} 2'], invalid: 1 },
  { given: 'a truncated last line', input: '# TYPE a gauge\na{x="1"} 1\na{x="2', out: ['# TYPE a gauge', 'a{x="1"} 1'], invalid: 1 },
  { given: 'invalid UTF-8, decoded as the relay decodes it', input: Buffer.from([...Buffer.from('# TYPE a gauge\na{x="'), 0xc3, 0x28, 0xff, ...Buffer.from('"} 1\n')]).toString('utf8'), out: ['# TYPE a gauge', 'a{x="\ufffd(\ufffd"} 1'] },
];

for (const { given, input, out, invalid = 0 } of CASES) {
  test(`GIVEN ${given} WHEN converted THEN the valid rest comes out as 0.0.4 and ${invalid} lines are counted invalid`, () => {
    const r = openMetricsToPrometheus(input);
    assert.deepEqual(lines(r.text), out);
    assert.equal(r.invalidLines, invalid);
  });
}

test('GIVEN labels to add WHEN a sample already has one of them THEN its own value stays and the label is not repeated', () => {
  const r = openMetricsToPrometheus('# TYPE a gauge\na{instance="x",b="1"} 1\na 2\n', { labels: { role: 'proxy', instance: 'proxy-0' } });
  assert.deepEqual(lines(r.text), ['# TYPE a gauge', 'a{instance="x",b="1",role="proxy"} 1', 'a{role="proxy",instance="proxy-0"} 2']);
});

test('GIVEN binary noise, alone and inside the real output WHEN converted THEN nothing throws and what comes out parses as 0.0.4', { skip: NO_PROMTOOL }, () => {
  for (let seed = 1; seed <= 20; seed++) {
    const junk = noise(2000 + seed * 97, seed).toString('utf8');
    const cut = Math.floor(MAILBOX.length * (seed / 21));
    for (const input of [junk, MAILBOX.slice(0, cut) + junk + MAILBOX.slice(cut)]) {
      const r = openMetricsToPrometheus(input, AGENT);
      const check = promtool(r.text);
      // Lint findings are allowed here (noise between a HELP and its TYPE leaves a family without help text).
      assert.ok(check.code === 0 || check.code === 3, `seed ${seed}: exit ${check.code}: ${check.output}\n${r.text.slice(0, 2000)}`);
    }
  }
});
