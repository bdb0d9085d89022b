import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionEvents, mergeConditions, sameConditions } from '../../../src/controller/conditions.ts';
import type { Condition } from '../../../src/controller/objects.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function conds(spec: Record<string, [Condition['status'], string, string?]>): Condition[] {
  return Object.entries(spec).map(([type, [status, reason, message]]) => ({ type, status, reason, message: message ?? reason, lastTransitionTime: '2026-03-01T11:00:00Z' }));
}

test('lastTransitionTime moves only when the status flips; observedGeneration is stamped', () => {
  const existing = conds({ Ready: ['True', 'MasterElected'], Degraded: ['False', 'AsExpected'] });
  const merged = mergeConditions(existing, [
    { type: 'Ready', status: 'True', reason: 'MasterElected', message: 'n2 is MASTER' },
    { type: 'Degraded', status: 'True', reason: 'NodeFault', message: 'n1 is FAULT' },
    { type: 'SplitBrain', status: 'False', reason: 'AtMostOneMaster', message: '' },
  ], 3, T0);
  assert.deepEqual(merged.map((c) => [c.type, c.lastTransitionTime, c.observedGeneration]), [
    ['Ready', '2026-03-01T11:00:00Z', 3],
    ['Degraded', '2026-03-01T12:00:00Z', 3],
    ['SplitBrain', '2026-03-01T12:00:00Z', 3],
  ]);
});

test('condition lists compare by type, whatever their order', () => {
  const a = conds({ Ready: ['True', 'X'], Accepted: ['True', 'Valid'] });
  assert.equal(sameConditions(a, [...a].reverse()), true);
  assert.equal(sameConditions(a, conds({ Ready: ['True', 'X'] })), false);
  assert.equal(sameConditions(a, conds({ Ready: ['True', 'X', 'other message'], Accepted: ['True', 'Valid'] })), false);
  assert.equal(sameConditions(undefined, []), true);
});

test('Events: rejections, split brains, degradations and their ends; nothing for the unchanged', () => {
  const ok = conds({ Accepted: ['True', 'Valid'], SplitBrain: ['False', 'AtMostOneMaster'], Degraded: ['False', 'AsExpected'] });
  assert.deepEqual(conditionEvents(ok, ok), []);
  assert.deepEqual(conditionEvents(undefined, ok), [], 'a first, healthy status is no news');
  const bad = conds({ Accepted: ['False', 'VRIDConflict', 'VRID 7 is taken'], SplitBrain: ['True', 'MultipleMasters', 'n1, n2'], Degraded: ['True', 'NodeFault', 'n1 FAULT'] });
  assert.deepEqual(conditionEvents(ok, bad), [
    { type: 'Warning', reason: 'VRIDConflict', note: 'VRID 7 is taken' },
    { type: 'Warning', reason: 'SplitBrain', note: 'n1, n2' },
    { type: 'Warning', reason: 'NodeFault', note: 'n1 FAULT' },
  ]);
  assert.deepEqual(conditionEvents(undefined, conds({ Accepted: ['False', 'InstanceNotFound', 'x'] })), [{ type: 'Warning', reason: 'InstanceNotFound', note: 'x' }]);
  assert.deepEqual(conditionEvents(bad, ok), [
    { type: 'Normal', reason: 'Accepted', note: 'Valid' },
    { type: 'Normal', reason: 'SplitBrainResolved', note: 'AtMostOneMaster' },
    { type: 'Normal', reason: 'Recovered', note: 'AsExpected' },
  ]);
  // Another rejection reason is news; the same one again is not.
  const other = conds({ Accepted: ['False', 'VIPConflict', 'VIP taken'] });
  assert.deepEqual(conditionEvents(bad, other), [{ type: 'Warning', reason: 'VIPConflict', note: 'VIP taken' }]);
  assert.deepEqual(conditionEvents(other, other), []);
});
