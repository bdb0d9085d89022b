// Metric and label names out of PromQL expressions and the metrics the two processes export,
// so docs/metrics.md and the Grafana dashboard can be checked against the code. Not a full
// PromQL parser: it knows selectors and their label matchers, function calls, aggregation and
// vector-matching clauses (by, without, on, ignoring, group_left, group_right), range and
// subquery brackets, offsets, numbers and string literals, which is all the docs use.
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';

export interface Selector {
  metric: string;
  /** Label names in its matchers. */
  labels: string[];
}

export interface Expression {
  selectors: Selector[];
  /** Label names of by / without / on / ignoring / group_left / group_right clauses. */
  clauseLabels: string[];
}

const CLAUSES = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const OPERATORS = new Set(['and', 'or', 'unless', 'bool', 'offset']);
/** Aggregations may put their clause before the parenthesis: sum by (x) (...). */
const AGGREGATIONS = new Set([
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio',
]);

/** Index just past the string literal starting at `i`. */
function skipString(text: string, i: number): number {
  const quote = text[i];
  let j = i + 1;
  while (j < text.length && text[j] !== quote) j += text[j] === '\\' ? 2 : 1;
  if (j >= text.length) throw new Error(`unterminated string in ${text}`);
  return j + 1;
}

/** Index just past the bracketed group opening at `i` (strings inside may hold brackets). */
function skipGroup(text: string, i: number, close: string): number {
  let j = i + 1;
  while (j < text.length && text[j] !== close) j = /["'`]/.test(text[j] ?? '') ? skipString(text, j) : j + 1;
  if (j >= text.length) throw new Error(`no ${close} closes the group at ${i} of ${text}`);
  return j + 1;
}

function names(list: string): string[] {
  return list.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

export function parseExpression(expr: string): Expression {
  const out: Expression = { selectors: [], clauseLabels: [] };
  let i = 0;
  const skipSpace = (): void => {
    while (i < expr.length && /\s/.test(expr[i] ?? '')) i++;
  };
  while (i < expr.length) {
    const c = expr[i] ?? '';
    if (/["'`]/.test(c)) {
      i = skipString(expr, i);
    } else if (c === '[') {
      i = skipGroup(expr, i, ']'); // a range or subquery: durations and Grafana variables
    } else if (c === '{') {
      throw new Error(`a selector without a metric name at ${i} of ${expr}`);
    } else if (/[0-9.]/.test(c)) {
      while (i < expr.length && /[0-9a-zA-Z.]/.test(expr[i] ?? '')) i++; // a number or a duration
    } else if (/[a-zA-Z_:]/.test(c)) {
      const start = i;
      while (i < expr.length && /[a-zA-Z0-9_:]/.test(expr[i] ?? '')) i++;
      const word = expr.slice(start, i);
      skipSpace();
      if (CLAUSES.has(word)) {
        if (expr[i] === '(') {
          const end = skipGroup(expr, i, ')');
          out.clauseLabels.push(...names(expr.slice(i + 1, end - 1)));
          i = end;
        }
      } else if (OPERATORS.has(word) || AGGREGATIONS.has(word) || expr[i] === '(') {
        // An operator, or a function or aggregation whose arguments the loop reads next.
      } else {
        const labels: string[] = [];
        if (expr[i] === '{') {
          const end = skipGroup(expr, i, '}');
          const matchers = expr.slice(i + 1, end - 1).replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '');
          for (const m of matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.push(m[1] ?? '');
          i = end;
        }
        out.selectors.push({ metric: word, labels });
      }
    } else {
      i++;
    }
  }
  return out;
}

export interface ExportedMetric {
  type: string;
  labels: string[];
  processes: string[];
}

/** Every metric the agent and the controller register, by name. */
export async function exportedMetrics(): Promise<Map<string, ExportedMetric>> {
  const out = new Map<string, ExportedMetric>();
  for (const [process, registry] of [['agent', new AgentMetrics().registry], ['controller', new ControllerMetrics().registry]] as const) {
    for (const m of await registry.getMetricsAsJSON()) {
      // prom-client keeps the label names on the metric object; its typings do not declare them.
      const labels = (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      const known = out.get(m.name);
      if (known) known.processes.push(process);
      else out.set(m.name, { type: String(m.type), labels: [...labels], processes: [process] });
    }
  }
  return out;
}

/** Labels Prometheus attaches to every scraped series (target, job, and common relabelings). */
export const TARGET_LABELS = ['instance', 'job', 'node', 'namespace', 'pod', 'service', 'endpoint', 'container'];

/**
 * The problems of one expression against the exported metrics: unknown metrics (a histogram's
 * _bucket, _sum and _count count as the histogram), and label names no metric of it carries.
 */
export function problems(expr: string, exported: ReadonlyMap<string, ExportedMetric>): string[] {
  const out: string[] = [];
  const parsed = parseExpression(expr);
  if (parsed.selectors.length === 0) out.push(`${expr}: names no metric`);
  const known = new Set(TARGET_LABELS);
  for (const s of parsed.selectors) {
    const base = s.metric.replace(/_(bucket|sum|count)$/, '');
    const m = exported.get(s.metric) ?? (exported.get(base)?.type === 'histogram' ? exported.get(base) : undefined);
    if (!m) {
      out.push(`${expr}: no metric ${s.metric}`);
      continue;
    }
    const labels = new Set([...m.labels, ...TARGET_LABELS, ...(s.metric.endsWith('_bucket') ? ['le'] : [])]);
    for (const l of labels) known.add(l);
    for (const l of s.labels) if (!labels.has(l)) out.push(`${expr}: ${s.metric} has no label ${l}`);
  }
  for (const l of parsed.clauseLabels) if (!known.has(l)) out.push(`${expr}: no metric of it has the label ${l}`);
  return out;
}
