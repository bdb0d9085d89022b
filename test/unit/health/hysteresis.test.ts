import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hysteresis } from '../../../src/health/hysteresis.ts';

test('goes down after fall consecutive failures and up after rise successes', () => {
  const h = new Hysteresis(3, 2, true);
  assert.deepEqual([false, true, false, false].map((ok) => h.record(ok)), [false, false, false, true]);
  assert.equal(h.up, false);
  assert.deepEqual([true, true, false, true, true, true].map((ok) => h.record(ok)), [false, false, false, false, false, true]);
  assert.equal(h.up, true);
});

test('rise and fall of 1 follow every result', () => {
  const h = new Hysteresis(1, 1, false);
  assert.deepEqual([true, true, false, true].map((ok) => h.record(ok)), [true, false, true, true]);
});
