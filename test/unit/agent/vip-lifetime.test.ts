import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vipLifetimeS } from '../../../src/agent/vip-set.ts';

test('VIP lifetime follows the takeover time, within 1 to 3 seconds', () => {
  assert.deepEqual([1, 10, 33, 34, 50, 100, 200, 4095].map(vipLifetimeS), [1, 1, 1, 2, 2, 3, 3, 3]);
});
