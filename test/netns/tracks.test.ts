// Tracks that fail from their very first run. The first result arrives while the VRRP thread is
// still setting the instance up; it must count all the same, whatever the track's weight: a
// weight-0 track keeps the node in FAULT, a negative one lowers it, a positive one never adds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { vrrpInstance, startAgent, configYaml } from '../lab/agent.ts';
import type { RunningAgent } from '../lab/agent.ts';
import { vip4 } from '../lab/lab.ts';
import type { LabNode } from '../lab/lab.ts';
import { sleep } from '../lab/run.ts';
import { useLab, assertServedBy, holders } from './scenario.ts';

const lab = useLab(2, 'tracks');

/** A check that fails at once and on every run. */
function failing(weight: number): { name: string; weight: number; exec: { command: string[]; interval: string; fall: number } } {
  return { name: 'broken', weight, exec: { command: ['false'], interval: '100ms', fall: 1 } };
}

/** An agent on node `n` (1 or 2) with its own instance document (its priority, its tracks). */
function startOn(t: { after(fn: () => Promise<void>): void }, n: 1 | 2, vip: string, o: Record<string, unknown>): RunningAgent {
  const node = lab().nodes[n - 1] as LabNode;
  const a = startAgent(lab(), node, configYaml([vrrpInstance({ vips: [`${vip}/24`], advertisementInterval: '100ms', ...o })]));
  t.after(async () => {
    await a.proc.stop(3000);
  });
  return a;
}

/** For `ms`, `node` never becomes MASTER and the VIP stays with `holder`. */
async function neverMaster(agent: RunningAgent, vip: string, holder: LabNode, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.deepEqual(await holders(lab(), vip), [holder.name]);
    await sleep(100);
  }
  const masters = agent.proc.output.map((l) => l.line).filter((l) => /"to":"Master"/.test(l));
  assert.deepEqual(masters, [], `${agent.node.name} became MASTER`);
}

test('weight 0 failing from the first run: the node goes FAULT and never takes the VIP', async (t) => {
  const vip = vip4(20);
  const a1 = startOn(t, 1, vip, { priority: 150, tracks: [failing(0)] });
  const a2 = startOn(t, 2, vip, { priority: 100 });
  const fault = await a1.waitForState('vi', 'Fault', 5000);
  assert.equal(fault.reason, 'track broken down');
  await a2.waitForState('vi', 'Master', 5000);
  await assertServedBy(lab(), vip, a2.node);
  await neverMaster(a1, vip, a2.node, 2000);
});

// In the next two the node with the failing track joins a running master: alone on the
// segment it would rightly become MASTER, whatever its priority.

test('a negative weight failing from the first run lowers the node from the start', async (t) => {
  const vip = vip4(21);
  const a2 = startOn(t, 2, vip, { priority: 100 });
  await a2.waitForState('vi', 'Master', 5000);
  // 150 - 100 = 50, below n2's 100: n1 must not preempt.
  const a1 = startOn(t, 1, vip, { priority: 150, tracks: [failing(-100)] });
  await a1.waitForState('vi', 'Backup', 5000);
  await neverMaster(a1, vip, a2.node, 2000);
});

test('a positive weight failing from the first run never adds', async (t) => {
  const vip = vip4(22);
  const a1 = startOn(t, 1, vip, { priority: 150 });
  await a1.waitForState('vi', 'Master', 5000);
  // n2 would be 100 + 100 = 200 with its track up; down, it stays below n1's 150.
  const a2 = startOn(t, 2, vip, { priority: 100, tracks: [failing(100)] });
  await a2.waitForState('vi', 'Backup', 5000);
  await neverMaster(a2, vip, a1.node, 2000);
});

test('a failing check whose command is fixed in the config: the node leaves FAULT', async (t) => {
  const vip = vip4(23);
  const a1 = startOn(t, 1, vip, { priority: 150, tracks: [failing(0)] });
  const a2 = startOn(t, 2, vip, { priority: 100 });
  await a1.waitForState('vi', 'Fault', 5000);
  await a2.waitForState('vi', 'Master', 5000);
  // The new check starts up and stays up: no up/down change is ever reported for it.
  const from = a1.proc.mark();
  const fixed = { ...failing(0), exec: { ...failing(0).exec, command: ['true'] } };
  writeFileSync(a1.configPath, configYaml([vrrpInstance({ vips: [`${vip}/24`], advertisementInterval: '100ms', priority: 150, tracks: [fixed] })]));
  await a1.waitForState('vi', 'Master', 5000, from);
  await assertServedBy(lab(), vip, a1.node);
});
