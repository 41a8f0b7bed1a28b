/**
 * The alert rule packs against the real tools: promtool (Debian's prometheus) checks every generated
 * file and runs the unit tests in promtool/ (input series, expected alerts, cases that must stay
 * quiet); vmalert (Debian's victoria-metrics), which evaluates them, accepts them too. Every mail and
 * platform rule must have a promtool case where it fires and one where it does not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse } from 'yaml';
import {
  alertRuleFiles, HOST_RULES_FILE, KUBERNETES_RULES_FILE, MAIL_RULES_FILE, PLATFORM_RULES_FILE, REDIS_RULES_FILE, WATCHDOG_ALERT, type AlertRuleOptions,
} from '../../src/observability/index.ts';
import type { PlatformSpec } from '../../src/spec/index.ts';
import { testSpec } from '../support/spec.ts';

const UNIT_TESTS = new URL('./promtool/', import.meta.url);
const NAMESPACE = 'mail';

interface Rule { alert: string; expr: string; for: string; labels: { severity: string }; annotations: Record<string, string> }
interface RuleFile { groups: { name: string; interval: string; rules: Rule[] }[] }
interface UnitTestFile { tests: { alert_rule_test?: { alertname: string; exp_alerts: { exp_labels?: { severity?: string } }[] }[] }[] }

function tool(name: string, args: string[], cwd?: string): { code: number | null; output: string } {
  const r = spawnSync(name, args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw new Error(`${name} cannot run (${r.error.message}): scripts/install-debian-packages.sh --with-tests installs it`, { cause: r.error });
  return { code: r.status, output: r.stdout + r.stderr };
}

/** The generated files of `spec` in a fresh directory (removed after the test), with the promtool unit tests of `unitTests` beside them. */
function rulesDir(t: TestContext, spec: PlatformSpec, opts: AlertRuleOptions, unitTests?: string): { dir: string; files: Record<string, string>; tests: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'mailfleet-rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = alertRuleFiles(spec, opts);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const tests = unitTests === undefined ? [] : readdirSync(new URL(unitTests, UNIT_TESTS)).filter((f) => f.endsWith('.yaml')).sort();
  for (const f of tests) copyFileSync(new URL(`${unitTests}/${f}`, UNIT_TESTS), join(dir, f));
  return { dir, files, tests };
}

const rules = (text: string): Rule[] => (parse(text) as RuleFile).groups.flatMap((g) => g.rules);

test('GIVEN the packs for Kubernetes and for the single host WHEN checked THEN promtool and vmalert accept every file', (t) => {
  for (const opts of [{ namespace: NAMESPACE }, {}]) {
    const { dir, files } = rulesDir(t, testSpec(), opts);
    const names = Object.keys(files);
    const check = tool('promtool', ['check', 'rules', ...names], dir);
    assert.equal(check.code, 0, check.output);
    for (const name of names) assert.match(check.output, new RegExp(`Checking ${name}\\n  SUCCESS: \\d+ rules found`));
    const vmalert = tool('vmalert', ['-dryRun', `-rule=${join(dir, '*.yaml')}`, '-loggerLevel=ERROR']);
    assert.equal(vmalert.code, 0, vmalert.output);
  }
});

test('GIVEN the Kubernetes packs WHEN promtool runs the unit tests THEN every expected alert fires and every quiet case stays quiet', (t) => {
  const { dir, tests } = rulesDir(t, testSpec(), { namespace: NAMESPACE }, 'kubernetes');
  assert.ok(tests.length > 0);
  const run = tool('promtool', ['test', 'rules', ...tests], dir);
  assert.equal(run.code, 0, run.output);
});

test('GIVEN the single-host packs WHEN promtool runs their unit tests THEN series without a namespace label alert', (t) => {
  const { dir, files, tests } = rulesDir(t, testSpec(), {}, 'single-host');
  // No Kubernetes or host pack: nothing on the single host exports their series (kube-state-metrics, node_exporter); the kvs agent serves Redis's.
  assert.deepEqual(Object.keys(files).sort(), [MAIL_RULES_FILE, PLATFORM_RULES_FILE, REDIS_RULES_FILE].sort());
  for (const text of Object.values(files)) assert.doesNotMatch(text, /namespace="/);
  const run = tool('promtool', ['test', 'rules', ...tests], dir);
  assert.equal(run.code, 0, run.output);
});

test('GIVEN forScale 0.01 and a 1 s evaluation interval WHEN promtool runs the scaled unit tests THEN alerts fire after seconds', (t) => {
  const spec = testSpec('alerting: { forScale: 0.01, evaluationSeconds: 1 }');
  const { dir, files, tests } = rulesDir(t, spec, { namespace: NAMESPACE }, 'scaled');
  const run = tool('promtool', ['test', 'rules', ...tests], dir);
  assert.equal(run.code, 0, run.output);
  const defaults = alertRuleFiles(testSpec(), { namespace: NAMESPACE });
  for (const [name, text] of Object.entries(files)) {
    const scaled = rules(text);
    const unscaled = rules(defaults[name] ?? '');
    assert.equal(scaled.length, unscaled.length);
    for (const [i, r] of scaled.entries()) {
      const base = seconds(unscaled[i]?.for ?? '');
      assert.equal(seconds(r.for), base === 0 ? 0 : Math.max(1, Math.round(base * 0.01)), `${r.alert}: ${unscaled[i]?.for} → ${r.for}`);
    }
    for (const g of (parse(text) as RuleFile).groups) assert.equal(g.interval, '1s', `${name} ${g.name}`);
  }
});

/** `1h30m` → 5400. */
function seconds(duration: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  assert.ok(m && duration !== '', `duration ${duration}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

test('GIVEN the promtool unit tests WHEN compared with the mail and platform packs THEN every alert and severity has a firing case and a quiet one', () => {
  const files = alertRuleFiles(testSpec(), { namespace: NAMESPACE });
  const wanted = new Set([MAIL_RULES_FILE, PLATFORM_RULES_FILE].flatMap((f) => rules(files[f] ?? '')).map((r) => `${r.alert}/${r.labels.severity}`));
  const fires = new Set<string>();
  const quiet = new Set<string>();
  for (const f of readdirSync(new URL('kubernetes', UNIT_TESTS)).filter((n) => n.endsWith('.yaml'))) {
    const doc = parse(readFileSync(new URL(`kubernetes/${f}`, UNIT_TESTS), 'utf8')) as UnitTestFile;
    for (const c of doc.tests.flatMap((x) => x.alert_rule_test ?? [])) {
      if (c.exp_alerts.length === 0) quiet.add(c.alertname);
      for (const a of c.exp_alerts) fires.add(`${c.alertname}/${a.exp_labels?.severity}`);
    }
  }
  assert.ok(wanted.size >= 30, `only ${wanted.size} mail and platform rules`);
  assert.deepEqual([...wanted].filter((w) => !fires.has(w)), [], 'alert/severity without a firing promtool case');
  // The watchdog has no quiet case: it always fires.
  assert.deepEqual([...new Set([...wanted].map((w) => w.split('/')[0] ?? ''))].filter((a) => !quiet.has(a) && a !== WATCHDOG_ALERT), [], 'alert without a quiet promtool case');
  const known = new Set(Object.values(files).flatMap((text) => rules(text)).map((r) => `${r.alert}/${r.labels.severity}`));
  assert.deepEqual([...fires].filter((f) => !known.has(f)), [], 'promtool cases for alerts the packs do not have');
});

test('GIVEN a namespace WHEN rendered THEN every selector of the scoped packs matches it and the host pack matches none', () => {
  const files = alertRuleFiles(testSpec(), { namespace: NAMESPACE });
  const metric = /\b(mailfleet_\w+|up|kube_\w+|kubelet_\w+|redis_\w+|rspamd_\w+|node_\w+)\b(\{[^}]*\})?/g;
  for (const name of [MAIL_RULES_FILE, PLATFORM_RULES_FILE, KUBERNETES_RULES_FILE, REDIS_RULES_FILE]) {
    for (const r of rules(files[name] ?? '').filter((x) => x.alert !== WATCHDOG_ALERT)) {
      const selectors = [...r.expr.matchAll(metric)];
      assert.ok(selectors.length > 0, r.alert);
      for (const [sel, , matchers] of selectors) assert.ok(matchers?.startsWith(`{namespace="${NAMESPACE}"`), `${name} ${r.alert}: ${sel}`);
    }
  }
  assert.doesNotMatch(files[HOST_RULES_FILE] ?? '', /namespace=/);
});

test('GIVEN every pack WHEN rendered THEN each rule has a severity, a summary, a description and a runbook, and its alert name is ours', () => {
  for (const [name, text] of Object.entries(alertRuleFiles(testSpec(), { namespace: NAMESPACE }))) {
    for (const r of rules(text)) {
      assert.match(r.alert, /^Mailfleet[A-Z][A-Za-z]+$/, `${name}`);
      if (r.alert === WATCHDOG_ALERT) {
        // About the pipeline, not a role: severity none, nothing to name.
        assert.equal(r.labels.severity, 'none');
        assert.equal(r.expr, 'vector(1)');
        continue;
      }
      assert.ok(['critical', 'warning'].includes(r.labels.severity), `${r.alert}: ${r.labels.severity}`);
      assert.deepEqual(Object.keys(r.annotations), ['summary', 'description', 'runbook'], r.alert);
      for (const v of Object.values(r.annotations)) assert.ok(v.length > 10, `${r.alert}: ${v}`);
      assert.match(r.annotations.summary ?? '', /\$labels\.(instance|role|pod|persistentvolumeclaim|statefulset|deployment|daemonset|job_name|source)/, `${r.alert} names what it is about`);
    }
  }
});

test('GIVEN the same spec WHEN rendered twice THEN the bytes are the same', () => {
  assert.deepEqual(alertRuleFiles(testSpec(), { namespace: NAMESPACE }), alertRuleFiles(testSpec(), { namespace: NAMESPACE }));
});

test('GIVEN a namespace that is not a Kubernetes name WHEN rendered THEN it is refused', () => {
  for (const namespace of ['', 'Mail', 'a"}or up{', 'x'.repeat(64)]) assert.throws(() => alertRuleFiles(testSpec(), { namespace }), RangeError, namespace);
});

/** A platform that runs clamd behind rspamd (its signatures from a mirror). */
const ANTIVIRUS = 'roles: { av: { replicas: 1 } }\nfilter: { antivirus: { signatures: { mirror: "https://clamav.example.com" } } }';

test('GIVEN a spec that runs clamd WHEN promtool runs the antivirus unit tests THEN MailfleetAntivirusUnavailable fires and stays quiet as they expect', (t) => {
  const { dir, files, tests } = rulesDir(t, testSpec(ANTIVIRUS), { namespace: NAMESPACE }, 'antivirus');
  assert.ok(tests.length > 0);
  assert.ok(rules(files[MAIL_RULES_FILE] ?? '').some((r) => r.alert === 'MailfleetAntivirusUnavailable'));
  const run = tool('promtool', ['test', 'rules', ...tests], dir);
  assert.equal(run.code, 0, run.output);
});

test('GIVEN the filter failing open, failing closed, without clamd or not running WHEN rendered THEN the filter rules follow the spec', () => {
  const alerts = (extra: string) => rules(alertRuleFiles(testSpec(extra), { namespace: NAMESPACE })[MAIL_RULES_FILE] ?? '')
    .map((r) => r.alert).filter((a) => /Milter|Filter|Antivirus/.test(a));
  assert.deepEqual(alerts(''), ['MailfleetMilterFailingOpen', 'MailfleetFilterDown', 'MailfleetFilterDown']);
  assert.deepEqual(alerts('filter: { failure: closed }'), ['MailfleetMilterFailingClosed', 'MailfleetFilterDown', 'MailfleetFilterDown']);
  assert.deepEqual(alerts(ANTIVIRUS), ['MailfleetMilterFailingOpen', 'MailfleetFilterDown', 'MailfleetFilterDown', 'MailfleetAntivirusUnavailable']);
  assert.deepEqual(alerts('roles: { as: { replicas: 0 } }'), []);
});
