// deploy/grafana/kubelived-dashboard.json against the code: every query names only metrics and
// labels the agent or the controller exports, every panel reads the dashboard's data source
// variable, and the panels cover what an operator looks for first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { exportedMetrics, parseExpression, problems } from './promql.ts';

interface Target { expr: string; datasource?: { type: string; uid: string } }
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable { name: string; type: string; query: string | { query: string }; datasource?: { uid: string } }
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const DASHBOARD = JSON.parse(readFileSync(new URL('../../../deploy/grafana/kubelived-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
const PANELS = DASHBOARD.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const QUERIES = PANELS.filter((p) => p.type !== 'row');
const EXPRS = QUERIES.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

test('a dashboard of the current schema with a Prometheus data source variable', () => {
  assert.equal(DASHBOARD.uid, 'kubelived');
  assert.ok(DASHBOARD.schemaVersion >= 39, `schemaVersion ${DASHBOARD.schemaVersion}`);
  const ds = DASHBOARD.templating.list.find((v) => v.name === 'datasource');
  assert.deepEqual({ type: ds?.type, query: ds?.query }, { type: 'datasource', query: 'prometheus' });
  for (const p of QUERIES) {
    assert.deepEqual(p.datasource, { type: 'prometheus', uid: '${datasource}' }, `panel ${p.title}`);
    assert.ok((p.targets ?? []).length > 0, `panel ${p.title} has queries`);
    for (const t of p.targets ?? []) assert.deepEqual(t.datasource, p.datasource, `a query of ${p.title}`);
  }
  const ids = PANELS.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  for (const p of PANELS) assert.ok(p.gridPos.x + p.gridPos.w <= 24, `panel ${p.title} fits the 24-column grid`);
});

test('every query names only exported metrics and their labels', async () => {
  const exported = await exportedMetrics();
  assert.ok(EXPRS.length >= 30, `${EXPRS.length} queries`);
  assert.deepEqual(EXPRS.flatMap((e) => problems(e, exported)), []);
  // Template variables: label_values(metric, label).
  for (const v of DASHBOARD.templating.list.filter((x) => x.type === 'query')) {
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(q);
    assert.ok(m, `variable ${v.name}: ${q}`);
    const [, metric = '', label = ''] = m;
    assert.ok(exported.get(metric)?.labels.includes(label), `variable ${v.name}: ${metric} has no label ${label}`);
  }
});

test('the panels cover VRRP, real servers, IPVS and the controller', () => {
  const used = new Set(EXPRS.flatMap((e) => parseExpression(e).selectors.map((s) => s.metric.replace(/_(bucket|sum|count)$/, ''))));
  for (const metric of [
    'kubelived_vrrp_state', 'kubelived_vrrp_transitions_total', 'kubelived_vrrp_failover_duration_seconds',
    'kubelived_vrrp_adverts_sent_total', 'kubelived_vrrp_adverts_received_total', 'kubelived_vrrp_packets_dropped_total',
    'kubelived_realserver_up', 'kubelived_ipvs_services', 'kubelived_ipvs_destinations', 'kubelived_ipvs_reconcile_errors_total',
    'kubelived_ipvs_reconcile_duration_seconds', 'kubelived_controller_reconcile_duration_seconds',
    'kubelived_controller_leader', 'kubelived_controller_status_writes_total', 'kubelived_controller_watch_errors_total',
  ]) assert.ok(used.has(metric), `no panel shows ${metric}`);
});
