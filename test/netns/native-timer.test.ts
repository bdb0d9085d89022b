// The addon's timerfd timer: never early, re-arming replaces the deadline, disarm and close
// stop it, and an armed timer alone keeps a worker's event loop alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { PreciseTimer } from '../../src/net/timer.ts';

function fireAfter(ms: number): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const t = new PreciseTimer(() => {
      t.close();
      resolve(performance.now() - start);
    });
    t.arm(ms);
  });
}

test('fires once, never before its deadline, fractions of a millisecond included', async () => {
  for (const ms of [0.5, 3.7, 20.25, 60.9375]) {
    const took = await fireAfter(ms);
    assert.ok(took >= ms, `armed for ${ms} ms, fired after ${took} ms`);
    // How late it may be is the benchmark's question (a loaded machine stalls any event loop);
    // here it only has to fire.
    assert.ok(took < ms + 2000, `armed for ${ms} ms, fired only after ${took} ms`);
  }
  assert.ok((await fireAfter(-5)) < 2000, 'a deadline in the past fires at once');
});

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 2000;
  while (!cond()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('re-arming replaces the deadline; disarm and close stop it', async () => {
  let fired = 0;
  let firedAt = 0;
  const t = new PreciseTimer(() => { fired++; firedAt = performance.now(); });
  const armedAt = performance.now();
  t.arm(10);
  t.arm(80);                       // replaces, does not add
  await until(() => fired > 0, 'the timer fires');
  assert.ok(firedAt - armedAt >= 80, `fired ${firedAt - armedAt} ms after arming: the first deadline was not replaced`);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fired, 1, 'one fire: re-arming replaced the first deadline');
  t.arm(10);
  t.disarm();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, 1);
  t.arm(10);
  t.close();
  t.close();
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(fired, 1);
  assert.throws(() => t.arm(5), { code: 'EBADF' });
});

test('bad delays are clear errors', () => {
  const t = new PreciseTimer(() => undefined);
  try {
    for (const bad of [Number.NaN, Infinity, '5' as unknown as number]) {
      assert.throws(() => t.arm(bad), /Timer\.arm: delayMs must be a finite number/);
    }
  } finally {
    t.close();
  }
});

test('in a worker: an armed timer keeps the loop alive, a disarmed one lets the worker exit', async () => {
  const code = `
    const { PreciseTimer } = await import(${JSON.stringify(new URL('../../src/net/timer.ts', import.meta.url).href)});
    const { parentPort } = await import('node:worker_threads');
    const idle = new PreciseTimer(() => parentPort.postMessage('idle fired'));
    idle.arm(10); idle.disarm();
    const t = new PreciseTimer(() => parentPort.postMessage('fired'));
    t.arm(30);
  `;
  const w = new Worker(code, { eval: true });
  const messages: unknown[] = [];
  w.on('message', (m) => messages.push(m));
  const exitCode = await new Promise<number>((resolve) => w.once('exit', resolve));
  assert.equal(exitCode, 0);
  assert.deepEqual(messages, ['fired']);
});
