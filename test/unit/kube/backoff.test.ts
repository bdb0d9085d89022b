import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../../src/kube/backoff.ts';

test('backoff doubles from 200 ms to a 30 s cap and starts over after a reset', () => {
  const b = new Backoff({ random: () => 0 });
  const delays = Array.from({ length: 11 }, () => b.next());
  assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  assert.equal(b.attempts, 11);
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 200);
});

test('jitter only shortens a delay, by at most its fraction', () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.25, random: () => 0.999999 });
  const d = b.next();
  assert.ok(d >= 750 && d < 1000, `got ${d}`);
  const c = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.25, random: () => 0 });
  assert.equal(c.next(), 1000);
});

test('a backoff that could never wait or never grow is refused', () => {
  assert.throws(() => new Backoff({ initialMs: 0 }), /invalid backoff/);
  assert.throws(() => new Backoff({ initialMs: 500, maxMs: 100 }), /invalid backoff/);
  assert.throws(() => new Backoff({ jitter: 1 }), /invalid backoff/);
});
