// Shared steps of the netns scenarios: a lab per test file, agents per test, and the checks a
// user would make from outside: which node holds the VIP, and whose MAC answers the client.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { createLab } from '../lab/lab.ts';
import type { Lab, LabNode } from '../lab/lab.ts';
import { startAgent, configYaml } from '../lab/agent.ts';
import type { RunningAgent } from '../lab/agent.ts';
import { waitFor } from '../lab/wait.ts';

export function useLab(nodes: number, name: string): () => Lab {
  let lab: Lab | undefined;
  before(async () => {
    lab = await createLab({ nodes, name });
  });
  after(async () => {
    await lab?.teardown();
  });
  return () => {
    if (!lab) throw new Error('lab not created');
    return lab;
  };
}

/** Starts one agent per node with the same config; stops them when the test ends. */
export function startAgents(lab: Lab, nodes: LabNode[], docs: Record<string, unknown>[], t: { after(fn: () => Promise<void>): void }): RunningAgent[] {
  const agents = nodes.map((n) => startAgent(lab, n, configYaml(docs)));
  t.after(async () => {
    await Promise.all(agents.map((a) => a.proc.stop(3000)));
  });
  return agents;
}

/** The nodes (by name) that hold `vip` on eth0 right now. */
export async function holders(lab: Lab, vip: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of lab.nodes) if ((await lab.addresses(n)).includes(vip)) out.push(n.name);
  return out;
}

/** Waits until exactly `node` holds the VIP and the client reaches it at node's MAC. */
export async function assertServedBy(lab: Lab, vip: string, node: LabNode, timeoutMs = 5000): Promise<void> {
  await waitFor(`${vip} held by ${node.name} only`, async () => {
    const h = await holders(lab, vip);
    return h.length === 1 && h[0] === node.name;
  }, timeoutMs);
  const v6 = vip.includes(':');
  await waitFor(`client reaching ${vip} at ${node.name}'s MAC`, async () => {
    const r = await lab.exec(lab.client.netns, ['ping', ...(v6 ? ['-6'] : []), '-c', '1', '-W', '1', vip], { allowFail: true });
    if (r.code !== 0) return false;
    return (await lab.neighMac(lab.client, vip)) === node.mac;
  }, timeoutMs);
  assert.equal(await lab.neighMac(lab.client, vip), node.mac);
}
