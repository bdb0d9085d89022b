// Exec probe: exit status, signals, and an abort that takes the whole process group down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execProbe } from '../../../src/health/exec.ts';
import { Checker } from '../../../src/health/checker.ts';
import type { CheckResult } from '../../../src/health/checker.ts';
import { probeOnce, sleep, until } from './helpers.ts';

// A killed helper may linger as a zombie until whoever inherited it reaps it: count it dead.
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('exit 0 is up; other statuses, signals and an empty command are failures', async () => {
  assert.deepEqual(await probeOnce(execProbe({ command: ['true'] })), { ok: true, detail: 'exit 0', stage: 'waiting for true' });
  assert.equal((await probeOnce(execProbe({ command: ['sh', '-c', 'exit 3'] }))).detail, 'exit 3');
  assert.equal((await probeOnce(execProbe({ command: ['sh', '-c', 'kill -TERM $$'] }))).detail, 'killed by SIGTERM');
  assert.equal((await probeOnce(execProbe({ command: [] }))).detail, 'empty command');
});

for (const how of ['timeout', 'stop'] as const) {
  test(`${how === 'timeout' ? 'a timeout' : 'stop()'} kills the command and the helpers it started`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kl-exec-'));
    const pidfile = join(dir, 'pid');
    const seen: CheckResult[] = [];
    const checker = new Checker(execProbe({ command: ['sh', '-c', `sleep 30 & echo $! > ${pidfile}; wait`] }),
      { intervalMs: 10_000, timeoutMs: how === 'timeout' ? 200 : 10_000, rise: 1, fall: 1, warmupMs: 0 }, (r) => seen.push(r));
    checker.start();
    try {
      await until(() => existsSync(pidfile) && readFileSync(pidfile, 'utf8').endsWith('\n'));
      const helper = Number(readFileSync(pidfile, 'utf8'));
      assert.ok(alive(helper));
      if (how === 'stop') checker.stop();
      await until(() => !alive(helper), 2000);
      if (how === 'timeout') {
        await until(() => seen.length >= 1);
        assert.deepEqual([seen[0]?.ok, seen[0]?.timedOut, seen[0]?.detail], [false, true, 'timed out after 200ms waiting for sh']);
      } else {
        await sleep(50);
        assert.equal(seen.length, 0, 'nothing reported after stop()');
      }
    } finally {
      checker.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
