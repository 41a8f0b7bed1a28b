/**
 * The dashboards as Grafana JSON: parseable, deterministic, stable uids, a query and a unit on every
 * panel, only the data source variable, only metric names of the contract, variables only where "All"
 * stands for every value, and panels that fit the grid without overlapping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DASHBOARD_NAMES, DASHBOARD_TAG, dashboardFileName, dashboardFiles } from '../../src/dashboards/index.ts';
import { dashboardQueries, FILTER_ROLES_ONLY, metricNames, substitute, variablesOutsideRegexMatchers } from '../support/dashboard-queries.ts';
import { CONTRACT_METRICS } from '../support/metrics-contract.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource: { type: string; uid: string } }[];
  fieldConfig?: { defaults: { unit?: string } };
  options?: { yAxis?: { unit?: string } };
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  tags: string[];
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string; allValue?: string; includeAll?: boolean }[] };
}

const files = dashboardFiles();
const parsed = Object.entries(files).map(([file, text]) => ({ file, d: JSON.parse(text) as Dashboard }));
const panelsOf = (d: Dashboard): Panel[] => d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const graphPanels = (d: Dashboard): Panel[] => panelsOf(d).filter((p) => p.type !== 'row');

test('GIVEN the dashboards WHEN listed THEN there are the five, each under its stable uid and file name', () => {
  assert.deepEqual(Object.keys(files), [
    'mailfleet-controller.json', 'mailfleet-mta-queues.json', 'mailfleet-overview.json', 'mailfleet-prober.json', 'mailfleet-proxy-mailbox.json',
  ]);
  assert.deepEqual(DASHBOARD_NAMES, ['overview', 'mta-queues', 'proxy-mailbox', 'prober', 'controller']);
  for (const { file, d } of parsed) {
    assert.equal(`${d.uid}.json`, file);
    assert.ok(d.tags.includes(DASHBOARD_TAG), file);
  }
  assert.equal(dashboardFileName('overview'), 'mailfleet-overview.json');
  assert.equal(new Set(parsed.map(({ d }) => d.title)).size, parsed.length, 'titles differ');
});

test('GIVEN two generations WHEN compared THEN the bytes are the same and every object has its keys sorted', () => {
  assert.deepEqual(dashboardFiles(), files);
  const sortedKeys = (v: unknown): boolean => {
    if (Array.isArray(v)) return v.every(sortedKeys);
    if (v === null || typeof v !== 'object') return true;
    const keys = Object.keys(v);
    return keys.every((k, i) => i === 0 || (keys[i - 1] as string) < k) && Object.values(v).every(sortedKeys);
  };
  for (const { file, d } of parsed) {
    assert.ok(sortedKeys(d), file);
    assert.ok(files[file]?.endsWith('}\n'), `${file} ends with a newline`);
  }
});

test('GIVEN every panel WHEN inspected THEN it has a query on the datasource variable, unique refIds, a unit and a unique id', () => {
  for (const { file, d } of parsed) {
    const ids = panelsOf(d).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${file}: panel ids unique`);
    const panels = graphPanels(d);
    assert.ok(panels.length >= 6, `${file} has panels`);
    for (const p of panels) {
      const where = `${file}: ${p.title}`;
      assert.ok((p.targets ?? []).length > 0, `${where} has a query`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, where);
      for (const t of p.targets ?? []) {
        assert.ok(t.expr.trim().length > 0, where);
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: '${datasource}' }, where);
      }
      const refIds = (p.targets ?? []).map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${where}: refIds unique`);
      const unit = p.type === 'heatmap' ? p.options?.yAxis?.unit : p.fieldConfig?.defaults.unit;
      assert.ok(unit, `${where} has a unit`);
    }
  }
});

test('GIVEN every dashboard WHEN its variables are read THEN the data source is a Prometheus variable and label variables offer All as .*', () => {
  for (const { file, d } of parsed) {
    const [first, ...rest] = d.templating.list;
    assert.deepEqual({ name: first?.name, type: first?.type, query: first?.query }, { name: 'datasource', type: 'datasource', query: 'prometheus' }, file);
    for (const v of rest) {
      assert.equal(v.includeAll, true, `${file}: ${v.name}`);
      assert.equal(v.allValue, '.*', `${file}: ${v.name}`);
    }
  }
});

test('GIVEN every query WHEN its variables are looked at THEN each is defined in its dashboard and stands alone in a =~ matcher', () => {
  const defined = new Map(parsed.map(({ file, d }) => [file, new Set(d.templating.list.map((v) => v.name))]));
  const queries = dashboardQueries(files);
  assert.ok(queries.length > 100, `found ${queries.length} queries`);
  for (const q of queries) {
    assert.deepEqual(variablesOutsideRegexMatchers(q.expr), [], `${q.file} ${q.where}: ${q.expr}`);
    for (const m of q.expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
      const name = m[1] ?? '';
      if (!name.startsWith('__')) assert.ok(defined.get(q.file)?.has(name), `${q.file} ${q.where}: $${name} is defined`);
    }
  }
});

test('GIVEN every query WHEN its metric names are read THEN each is in the metrics contract (a misspelt name fails here)', () => {
  const unknown = dashboardQueries(files).flatMap((q) => metricNames(q.expr).filter((n) => !CONTRACT_METRICS.has(n)).map((n) => `${q.file} ${q.where}: ${n}`));
  assert.deepEqual(unknown, []);
  // The check can fail: a misspelling is not in the contract.
  assert.deepEqual(metricNames('rate(mailfleet_postfix_smtpd_conects_total[1m])').filter((n) => !CONTRACT_METRICS.has(n)), ['mailfleet_postfix_smtpd_conects_total']);
});

test('GIVEN the signals the dashboards exist for WHEN the dashboards are searched THEN each is on a panel', () => {
  const used = new Set(dashboardQueries(files).flatMap((q) => metricNames(q.expr)));
  for (const m of [
    'mailfleet_postfix_queue_messages', 'mailfleet_postfix_deliveries_total', 'mailfleet_postfix_delivery_delay_seconds', 'mailfleet_postfix_smtpd_rejects_total',
    'mailfleet_postfix_smtpd_sasl_authentication_failures_total', 'mailfleet_postfix_smtpd_tls_connections_total',
    'dovecot_auth_success_total', 'dovecot_auth_failure_total', 'dovecot_imap_command_total', 'dovecot_lmtp_command_total', 'dovecot_proxy_session_total',
    'mailfleet_lmtp_router_sessions_total', 'mailfleet_lmtp_router_deliveries_total', 'mailfleet_lmtp_router_backend_connections_total',
    'mailfleet_probe_success', 'mailfleet_probe_stage_duration_seconds', 'mailfleet_probe_certificate_expiry_timestamp_seconds',
    'mailfleet_backends_reconciles_total', 'mailfleet_backends_errors_total', 'mailfleet_backends_sync_latency_seconds', 'mailfleet_backends', 'mailfleet_backends_users',
    'mailfleet_agent_ready', 'mailfleet_agent_daemon_up', 'mailfleet_agent_certificate_expiry_timestamp_seconds',
    'mailfleet_postfix_milter_failures_total', 'rspamd_scanned_total', 'rspamd_actions_total',
  ]) assert.ok(used.has(m), m);
});

test('GIVEN the panels of a dashboard WHEN laid out THEN each fits the 24 columns and none overlaps another', () => {
  for (const { file, d } of parsed) {
    const boxes = panelsOf(d).map((p) => ({ title: p.title, ...p.gridPos }));
    for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.x + b.w <= 24 && b.h > 0, `${file}: ${b.title}`);
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `${file}: ${a.title} overlaps ${b.title}`);
      }
    }
  }
});

test('GIVEN Grafana variables WHEN substituted THEN intervals become a window and dashboard variables match everything', () => {
  assert.equal(
    substitute('sum by (queue) (rate(x{namespace=~"$namespace",role=~"${role}",i=~"[[instance]]"}[$__rate_interval]))'),
    'sum by (queue) (rate(x{namespace=~".*",role=~".*",i=~".*"}[1m]))',
  );
  assert.equal(substitute('increase(x[$__interval]) / $__range', { interval: '1h' }), 'increase(x[1h]) / 1h');
  assert.throws(() => substitute('rate(x[$__auto])'), /unknown Grafana variable \$__auto/);
  assert.deepEqual(variablesOutsideRegexMatchers('x{a=~"$a",b="$b"} > $c'), ['$b', '$c']);
});

test('GIVEN queries of the filter roles and others WHEN matched against FILTER_ROLES_ONLY THEN only those scoped to as or av are', () => {
  for (const expr of ['rate(rspamd_scanned_total{namespace=~"$namespace",role="as"}[1m])', 'sum by (role) (mailfleet_agent_ready{role=~"as|av"})', 'up{role="av"}']) {
    assert.ok(FILTER_ROLES_ONLY.test(expr), expr);
  }
  for (const expr of ['mailfleet_agent_ready{role=~"$role"}', 'up{role="mta"}', 'x{role="ask"}', 'x{role=~"as|mta"}']) assert.ok(!FILTER_ROLES_ONLY.test(expr), expr);
});
