// The common scheduler with scripted probes: timing, timeouts, one run in flight, hysteresis,
// stop. The probes against real servers are in the other files of this directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult, CheckTiming, Probe, ProbeOutcome } from '../../../src/health/checker.ts';
import { until, sleep } from './helpers.ts';

interface Seen { r: CheckResult; changed: boolean; up: boolean }

function run(probe: Probe, timing: Partial<CheckTiming> = {}): { checker: Checker; seen: Seen[] } {
  const seen: Seen[] = [];
  const checker = new Checker(probe, { intervalMs: 10, timeoutMs: 1000, rise: 1, fall: 1, warmupMs: 0, ...timing },
    (r, changed, up) => seen.push({ r, changed, up }));
  return { checker, seen };
}

test('rise and fall through the scheduler, starting up by default (keepalived without alpha)', async () => {
  const script = [false, false, true, true, false, true, true, true];
  let i = 0;
  const { checker, seen } = run(() => Promise.resolve({ ok: script[i++] ?? true, detail: 'scripted' }), { rise: 3, fall: 2 });
  assert.equal(checker.up, true);
  checker.start();
  try {
    await until(() => seen.length >= script.length);
    assert.deepEqual(seen.slice(0, script.length).map((s) => [s.r.ok, s.changed, s.up]), [
      [false, false, true],
      [false, true, false],
      [true, false, false],
      [true, false, false],
      [false, false, false],
      [true, false, false],
      [true, false, false],
      [true, true, true],
    ]);
    assert.equal(checker.stats.transitions, 2);
    assert.ok(seen.every((s) => s.r.detail === 'scripted' && !s.r.timedOut && s.r.durationMs >= 0));
  } finally {
    checker.stop();
  }
});

test('initiallyUp false (keepalived alpha) needs rise successes first', async () => {
  const { checker, seen } = run(() => Promise.resolve({ ok: true, detail: 'fine' }), { rise: 2, initiallyUp: false });
  assert.equal(checker.up, false);
  checker.start();
  try {
    await until(() => seen.length >= 3);
    assert.deepEqual(seen.slice(0, 3).map((s) => [s.changed, s.up]), [[false, false], [true, true], [false, true]]);
  } finally {
    checker.stop();
  }
});

test('a run is aborted and reported at its timeout, naming the stage it was in', async () => {
  let aborted = 0;
  const probe: Probe = ({ signal, stage }) => new Promise((resolve) => {
    stage('waiting for response headers');
    signal.addEventListener('abort', () => { aborted++; resolve({ ok: false, detail: 'aborted' }); });
  });
  const { checker, seen } = run(probe, { timeoutMs: 50, intervalMs: 1000 });
  checker.start();
  try {
    await until(() => seen.length >= 1);
    const r = seen[0]?.r;
    assert.equal(r?.ok, false);
    assert.equal(r?.timedOut, true);
    assert.equal(r?.detail, 'timed out after 50ms waiting for response headers');
    assert.ok((r?.durationMs ?? 0) >= 45 && (r?.durationMs ?? 0) < 500, `duration ${r?.durationMs}`);
    assert.equal(aborted, 1);
    assert.equal(checker.stats.timeouts, 1);
  } finally {
    checker.stop();
  }
});

test('a probe that ignores its abort never gets a second run beside it', async () => {
  let open = 0;
  let maxOpen = 0;
  let starts = 0;
  let release: (() => void) | undefined;
  const probe: Probe = () => new Promise<ProbeOutcome>((resolve) => {
    starts++;
    open++;
    maxOpen = Math.max(maxOpen, open);
    release = () => { open--; resolve({ ok: true, detail: 'late' }); };
  });
  const { checker, seen } = run(probe, { timeoutMs: 20, intervalMs: 10 });
  checker.start();
  try {
    await until(() => seen.length >= 5);
    assert.equal(starts, 1, 'the hung probe is the only one ever started');
    assert.equal(maxOpen, 1);
    assert.equal(seen[0]?.r.detail, 'timed out after 20ms');
    assert.match(seen[1]?.r.detail ?? '', /^previous run still in flight after \d+ms, not started$/);
    assert.ok(seen.every((s) => !s.r.ok));
    assert.equal(checker.stats.inFlight, true);
    release?.();
    await until(() => starts >= 2);
    assert.equal(maxOpen, 1);
  } finally {
    checker.stop();
    release?.();
  }
});

test('stop() aborts the run in flight and reports nothing more', async () => {
  let signal: AbortSignal | undefined;
  const probe: Probe = (ctx) => new Promise((resolve) => {
    signal = ctx.signal;
    ctx.signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted' }));
  });
  const { checker, seen } = run(probe, { timeoutMs: 10_000 });
  checker.start();
  await until(() => signal !== undefined);
  checker.stop();
  assert.equal(signal?.aborted, true);
  await sleep(50);
  assert.equal(seen.length, 0);
});

test('a probe that throws or rejects is a failure with its message', async () => {
  let n = 0;
  const probe: Probe = () => {
    if (n++ === 0) throw new Error('sync boom');
    return Promise.reject(new Error('async boom'));
  };
  const { checker, seen } = run(probe);
  checker.start();
  try {
    await until(() => seen.length >= 2);
    assert.deepEqual(seen.slice(0, 2).map((s) => [s.r.ok, s.r.detail]), [[false, 'sync boom'], [false, 'async boom']]);
  } finally {
    checker.stop();
  }
});

test('the first run waits a random warmup within [0, warmupMs), the interval by default', async () => {
  const firstRun = async (timing: Partial<CheckTiming>): Promise<number> => {
    const t0 = performance.now();
    let at = -1;
    const { checker } = run(() => {
      at = performance.now() - t0;
      return Promise.resolve({ ok: true, detail: '' });
    }, { intervalMs: 10_000, ...timing });
    checker.start();
    try {
      await until(() => at >= 0);
    } finally {
      checker.stop();
    }
    return at;
  };
  assert.ok(await firstRun({ warmupMs: 200, random: () => 0.5 }) >= 95);
  assert.ok(await firstRun({ warmupMs: 200, random: () => 0 }) < 150);
  // No warmupMs: up to one interval (10 s); random 0.02 gives 200 ms.
  assert.ok(await firstRun({ warmupMs: undefined, random: () => 0.02 }) >= 195);
});

test('while a transition is in progress the retry interval applies', async () => {
  const starts: number[] = [];
  const { checker, seen } = run(() => {
    starts.push(performance.now());
    return Promise.resolve({ ok: false, detail: 'down' });
  }, { intervalMs: 300, retryIntervalMs: 10, fall: 3 });
  checker.start();
  try {
    await until(() => seen.length >= 4);
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] ?? 0));
    assert.ok((gaps[0] ?? 0) < 150 && (gaps[1] ?? 0) < 150, `retries are quick: ${gaps.join(', ')}`);
    assert.ok((gaps[2] ?? 0) >= 290, `once down, failures are the steady state: ${gaps.join(', ')}`);
    assert.equal(seen[2]?.changed, true);
  } finally {
    checker.stop();
  }
});

test('bad timing is refused up front', () => {
  const probe: Probe = () => Promise.resolve({ ok: true, detail: '' });
  assert.throws(() => new Checker(probe, { intervalMs: 0, timeoutMs: 1, rise: 1, fall: 1 }, () => {}), /intervalMs/);
  assert.throws(() => new Checker(probe, { intervalMs: 1, timeoutMs: 1, rise: 0, fall: 1 }, () => {}), /rise/);
  assert.throws(() => new Checker(probe, { intervalMs: 1, timeoutMs: Number.NaN, rise: 1, fall: 1 }, () => {}), /timeoutMs/);
});
