// Preemption rules and tracked checks, with the seeds' MySQL example (100 nopreempt / 90,
// weight -20) played out on real agents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vrrpInstance, startAgent, configYaml } from '../lab/agent.ts';
import { vip4 } from '../lab/lab.ts';
import { sleep } from '../lab/run.ts';
import { useLab, startAgents, assertServedBy } from './scenario.ts';

const lab = useLab(2, 'preempt');
const VIP = vip4(1);

test('nopreempt: a higher priority node joining later does not take over a live master', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const docs = [vrrpInstance({ vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], preempt: false, advertisementInterval: '100ms' })];
  const [a2] = startAgents(lab(), [n2], docs, t);
  await a2?.waitForState('vi', 'Master', 5000);
  const [a1] = startAgents(lab(), [n1], docs, t);
  await a1?.waitForState('vi', 'Backup', 5000);
  await sleep(1500);
  await assertServedBy(lab(), VIP, n2);
  // It still takes over when the master goes away.
  await a2?.proc.stop();
  await a1?.waitForState('vi', 'Master', 2000);
  await assertServedBy(lab(), VIP, n1);
});

test('preempt delay: a higher priority node waits the delay before preempting', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const docs = [vrrpInstance({ vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], preemptDelay: '2s', advertisementInterval: '100ms' })];
  const [a2] = startAgents(lab(), [n2], docs, t);
  await a2?.waitForState('vi', 'Master', 5000);
  const [a1] = startAgents(lab(), [n1], docs, t);
  const backup = await a1?.waitForState('vi', 'Backup', 5000);
  const master = await a1?.waitForState('vi', 'Master', 5000);
  assert.ok(backup && master);
  const waited = master.t - backup.t;
  assert.ok(waited >= 1900 && waited <= 3000, `preempted after ${waited} ms, want about 2000`);
  await assertServedBy(lab(), VIP, n1);
});

test('tracked check, MySQL example: 100 nopreempt (-20) vs 90; failure moves the VIP, recovery does not move it back', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const dir = mkdtempSync(join(tmpdir(), 'kl-track-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const flag = join(dir, 'mysql-ok');
  writeFileSync(flag, '');
  const track = { name: 'mysql', weight: -20, exec: { command: ['test', '-f', flag], interval: '200ms' } };
  const n1Doc = vrrpInstance({ vips: [`${VIP}/24`], priority: 100, preempt: false, advertisementInterval: '100ms', tracks: [track] });
  const n2Doc = vrrpInstance({ vips: [`${VIP}/24`], priority: 90, advertisementInterval: '100ms' });
  const a1 = startAgent(lab(), n1, configYaml([n1Doc]));
  t.after(async () => { await a1.proc.stop(); });
  await a1.waitForState('vi', 'Master', 5000);
  const a2 = startAgent(lab(), n2, configYaml([n2Doc]));
  t.after(async () => { await a2.proc.stop(); });
  await a2.waitForState('vi', 'Backup', 5000);
  await assertServedBy(lab(), VIP, n1);

  rmSync(flag);                                   // MySQL on n1 fails: 100 - 20 = 80 < 90
  await a1.proc.waitForLine(/track mysql down/, 3000);
  await a2.waitForState('vi', 'Master', 2000);
  await a1.waitForState('vi', 'Backup', 2000);
  await assertServedBy(lab(), VIP, n2);

  writeFileSync(flag, '');                        // back to 100, but nopreempt: n2 stays master
  await a1.proc.waitForLine(/track mysql up/, 3000);
  await sleep(1500);
  await assertServedBy(lab(), VIP, n2);
});
