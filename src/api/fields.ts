// Small typed readers for untyped documents: each returns the value when it has the right shape
// and otherwise records an issue naming the field, so one pass reports every problem.
import type { IssueList } from './issues.ts';
import { parseDuration } from './duration.ts';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : JSON.stringify(v);
}

/** Reports fields that are not in `known`: a typo (say `prority`) must not be silently ignored. */
export function rejectUnknown(o: Obj, known: readonly string[], path: string, issues: IssueList): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) issues.add(path ? `${path}.${k}` : k, `unknown field (known: ${known.join(', ')})`);
  }
}

export function int(
  o: Obj, key: string, path: string, issues: IssueList,
  range: { min: number; max: number; def?: number },
): number | undefined {
  const v = o[key];
  if (v === undefined) {
    if (range.def === undefined) issues.add(`${path}.${key}`, 'required');
    return range.def;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range.min || v > range.max) {
    issues.add(`${path}.${key}`, `must be an integer from ${range.min} to ${range.max}, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function bool(o: Obj, key: string, path: string, issues: IssueList, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') {
    issues.add(`${path}.${key}`, `must be true or false, got ${describe(v)}`);
    return def;
  }
  return v;
}

export function str(o: Obj, key: string, path: string, issues: IssueList, required: boolean): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) issues.add(`${path}.${key}`, 'required');
    return undefined;
  }
  if (typeof v !== 'string' || v === '') {
    issues.add(`${path}.${key}`, `must be a non-empty string, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function duration(
  o: Obj, key: string, path: string, issues: IssueList,
  range: { minMs: number; maxMs: number; defMs: number },
): number | undefined {
  const v = o[key];
  if (v === undefined) return range.defMs;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined) {
    issues.add(`${path}.${key}`, `must be a duration such as "1s" or "100ms", got ${describe(v)}`);
    return undefined;
  }
  if (ms < range.minMs || ms > range.maxMs) {
    issues.add(`${path}.${key}`, `must be between ${range.minMs}ms and ${range.maxMs}ms, got ${describe(v)}`);
    return undefined;
  }
  return ms;
}

/** `maxItems` bounds lists the API server's CEL rules iterate, so both sides refuse the same. */
export function list(o: Obj, key: string, path: string, issues: IssueList, maxItems = Infinity): unknown[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.add(`${path}.${key}`, `must be a list, got ${describe(v)}`);
    return [];
  }
  if (v.length > maxItems) issues.add(`${path}.${key}`, `at most ${maxItems} items, got ${v.length}`);
  return v;
}

export function obj(o: Obj, key: string, path: string, issues: IssueList): Obj | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!isObj(v)) {
    issues.add(`${path}.${key}`, `must be an object, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

export function stringMap(o: Obj, key: string, path: string, issues: IssueList): Record<string, string> {
  const m = obj(o, key, path, issues) ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string') out[k] = v;
    else issues.add(`${path}.${key}.${k}`, `must be a string, got ${describe(v)}`);
  }
  return out;
}
