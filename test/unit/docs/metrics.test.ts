// docs/metrics.md against the code: it lists exactly the metrics the agent and the controller
// register, with their types and labels, and every PromQL expression on the page (examples and
// alert rules) and in docs/operations.md names only metrics and labels that exist. Neither
// process is started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { DROP_REASONS } from '../../../src/vrrp/drop-reason.ts';
import { exportedMetrics, parseExpression, problems } from './promql.ts';

const DOC = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');

interface DocumentedMetric {
  type: string;
  labels: string[];
}

/** The rows of the page's metric tables: | `name` | type | `label`, ... | meaning |. */
function documented(): Map<string, DocumentedMetric> {
  const out = new Map<string, DocumentedMetric>();
  for (const m of DOC.matchAll(/^\| `([a-z_:][a-z0-9_:]*)` \| (counter|gauge|histogram|summary) \|([^|]*)\|/gm)) {
    const [, name = '', type = '', labels = ''] = m;
    assert.ok(!out.has(name), `${name} is documented twice`);
    out.set(name, { type, labels: [...labels.matchAll(/`([a-z_]+)`/g)].map((l) => l[1] ?? '') });
  }
  return out;
}

function fenced(language: string): string[] {
  return [...DOC.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1] ?? '');
}

test('every registered metric is documented with its type and labels, and nothing else is', async () => {
  const exported = await exportedMetrics();
  const doc = documented();
  assert.ok(exported.size > 50 && doc.size > 50, `${exported.size} registered, ${doc.size} documented`);
  const missing = [...exported.keys()].filter((n) => !doc.has(n));
  assert.deepEqual(missing, [], 'registered but not in docs/metrics.md');
  const unknown = [...doc.keys()].filter((n) => !exported.has(n));
  assert.deepEqual(unknown, [], 'in docs/metrics.md but registered by neither process');
  for (const [name, m] of exported) {
    assert.equal(doc.get(name)?.type, m.type, `${name}: type`);
    assert.deepEqual(doc.get(name)?.labels, m.labels, `${name}: labels, in order`);
  }
});

test('the names follow the Prometheus conventions', async () => {
  for (const [name, m] of await exportedMetrics()) {
    if (!name.startsWith('kubelived_')) continue; // prom-client's own, documented as they are
    assert.match(name, /^kubelived_[a-z0-9_]+$/, name);
    assert.equal(name.endsWith('_total'), m.type === 'counter', `${name}: counters and only counters end in _total`);
    if (/duration|lateness|latency|_time/.test(name)) assert.match(name, /_seconds$/, `${name}: times are in seconds`);
    assert.ok(!m.labels.includes('instance') && !m.labels.includes('job'), `${name}: a label Prometheus sets itself`);
  }
});

test('every drop reason the VRRP receive checks count is explained', () => {
  for (const reason of DROP_REASONS) assert.match(DOC, new RegExp(`^\\| \`${reason}\` \\|`, 'm'), reason);
});

test('every PromQL example and alert names only metrics and labels that exist', async () => {
  const exported = await exportedMetrics();
  const examples = fenced('promql').map((e) => e.trim());
  const rules = fenced('yaml').flatMap((block) => {
    const y = parse(block) as { groups?: { rules: { alert: string; expr: string }[] }[] };
    return (y.groups ?? []).flatMap((g) => g.rules.map((r) => r.expr));
  });
  assert.ok(examples.length >= 10 && rules.length >= 5, `${examples.length} examples, ${rules.length} alert rules`);
  assert.deepEqual([...examples, ...rules].flatMap((e) => problems(e, exported)), []);
});

test('the expression reader finds metrics, matcher labels and clause labels, and misses nothing', async () => {
  const e = parseExpression('histogram_quantile(0.99, sum by (le, vrrp_instance) (rate(kubelived_vrrp_failover_duration_seconds_bucket{state=~"M.*",x="}"}[$__rate_interval] offset 5m))) > on (instance) group_left vector(0)');
  assert.deepEqual(e.selectors, [{ metric: 'kubelived_vrrp_failover_duration_seconds_bucket', labels: ['state', 'x'] }]);
  assert.deepEqual(e.clauseLabels, ['le', 'vrrp_instance', 'instance']);
  const exported = await exportedMetrics();
  assert.deepEqual(problems('sum by (vrrp_instance) (kubelived_vrrp_state{instance="web"})', exported), []);
  assert.deepEqual(problems('kubelived_vrrp_stat{vrrp_instance="web"}', exported), ['kubelived_vrrp_stat{vrrp_instance="web"}: no metric kubelived_vrrp_stat']);
  assert.deepEqual(problems('kubelived_ipvs_services{virtual_server="a/b"}', exported), ['kubelived_ipvs_services{virtual_server="a/b"}: kubelived_ipvs_services has no label virtual_server']);
  assert.deepEqual(problems('sum by (track) (kubelived_ipvs_services)', exported), ['sum by (track) (kubelived_ipvs_services): no metric of it has the label track']);
});

test('the PromQL of docs/operations.md names only metrics and labels that exist', async () => {
  const exported = await exportedMetrics();
  const ops = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
  const table = ops.slice(ops.indexOf('| question | PromQL |'));
  const exprs = [...table.matchAll(/^\| [^|]+ \| (`[^\n]*`)[^|\n]* \|$/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([^`]+)`/g)].map((c) => c[1] ?? ''));
  assert.ok(exprs.length >= 5, exprs.join('\n'));
  assert.deepEqual(exprs.flatMap((e) => problems(e, exported)), []);
});
