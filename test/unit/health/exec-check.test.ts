import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecChecker } from '../../../src/health/exec-check.ts';
import type { CheckResult } from '../../../src/health/exec-check.ts';

function collect(command: string[], opts: { fall?: number; timeoutMs?: number } = {}): { checker: ExecChecker; results: { r: CheckResult; changed: boolean; up: boolean }[] } {
  const results: { r: CheckResult; changed: boolean; up: boolean }[] = [];
  const checker = new ExecChecker({ command, intervalMs: 20, timeoutMs: opts.timeoutMs ?? 1000, rise: 1, fall: opts.fall ?? 1 },
    (r, changed, up) => results.push({ r, changed, up }));
  return { checker, results };
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('exit status drives up/down with fall hysteresis', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-check-'));
  const flag = join(dir, 'ok');
  writeFileSync(flag, '');
  const { checker, results } = collect(['test', '-f', flag], { fall: 2 });
  checker.start();
  try {
    await until(() => results.length >= 2);
    assert.ok(results.every((x) => x.r.ok && x.up && !x.changed));
    rmSync(flag);
    await until(() => results.some((x) => x.changed));
    const firstFail = results.findIndex((x) => !x.r.ok);
    assert.equal(results[firstFail]?.changed, false, 'one failure is not enough with fall 2');
    assert.equal(results[firstFail + 1]?.changed, true);
    assert.equal(checker.up, false);
    assert.equal(results[firstFail]?.r.detail, 'exit 1');
  } finally {
    checker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hanging command is killed at its timeout and counts as a failure', async () => {
  const { checker, results } = collect(['sleep', '30'], { timeoutMs: 100 });
  checker.start();
  try {
    await until(() => results.length >= 1);
    assert.equal(results[0]?.r.ok, false);
    assert.match(results[0]?.r.detail ?? '', /timed out after 100ms/);
    assert.ok((results[0]?.r.durationMs ?? 0) < 1000);
  } finally {
    checker.stop();
  }
});

test('a missing program is a failure with a clear detail', async () => {
  const { checker, results } = collect(['/nonexistent/check']);
  checker.start();
  try {
    await until(() => results.length >= 1);
    assert.equal(results[0]?.up, false);
    assert.match(results[0]?.r.detail ?? '', /cannot run \/nonexistent\/check: .*ENOENT/);
  } finally {
    checker.stop();
  }
});
