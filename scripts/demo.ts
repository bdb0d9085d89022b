// `npm run demo`: a two-node VRRP failover in a throw-away namespace lab. Two standalone
// agents share one VrrpInstance; a client pings the VIP every 5 ms while the master is stopped
// gracefully, then killed with SIGKILL. Prints who is master and what the client saw.
// Everything is torn down on exit or Ctrl-C.
import { createLab, vip4 } from '../test/lab/lab.ts';
import type { Lab, LabNode } from '../test/lab/lab.ts';
import { startAgent, configYaml, vrrpInstance } from '../test/lab/agent.ts';
import type { RunningAgent } from '../test/lab/agent.ts';
import { startProbe } from '../test/lab/probe.ts';

const VIP = vip4(0);
const say = (text: string): void => console.log(`\x1b[1m==>\x1b[0m ${text}`);

if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root: it creates network namespaces and raw sockets.');
  process.exit(1);
}

const doc = vrrpInstance({
  name: 'web', vrid: 51, vips: [`${VIP}/24`], priority: 100,
  priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms',
});

async function holder(lab: Lab): Promise<string> {
  const names: string[] = [];
  for (const n of lab.nodes) if ((await lab.addresses(n)).includes(VIP)) names.push(n.name);
  return names.join(' + ') || 'nobody';
}

async function failover(lab: Lab, master: RunningAgent, backup: RunningAgent, how: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const probe = await startProbe(lab, VIP);
  await probe.waitForReplyFrom(master.node.mac, 5000, 0);
  const from = backup.proc.mark();
  say(`${how} to the master agent on ${master.node.name}`);
  const t0 = Date.now();
  master.proc.signal(how);
  const line = await backup.waitForState('web', 'Master', 5000, from);
  await probe.waitForReplyFrom(backup.node.mac, 5000, t0);
  await new Promise((r) => setTimeout(r, 300));
  const r = await probe.stop();
  const gap = r.gapAround(t0);
  console.log(`    ${backup.node.name} became MASTER ${line.t - t0} ms after the signal (${line.reason})`);
  const why = how === 'SIGTERM' ? 'the old master kept answering until the new one advertised' : 'the dead agent\'s VIP still answers until its lifetime runs out';
  console.log(`    client reply gap: ${gap && gap.ms > 20 ? `${gap.ms.toFixed(0)} ms` : `none (${why})`}; VIP held by: ${await holder(lab)}`);
  await master.proc.exited;
}

say('creating the lab: bridge, 2 node namespaces, 1 client namespace (198.18.0.0/24)');
const lab = await createLab({ nodes: 2, name: 'demo' });
try {
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  console.log(configYaml([doc]).replace(/^/gm, '    '));
  say('starting kubelived agents on n1 (priority 150) and n2 (priority 100)');
  let a1 = startAgent(lab, n1, configYaml([doc]));
  const a2 = startAgent(lab, n2, configYaml([doc]));
  await a1.waitForState('web', 'Master', 10_000);
  await a2.waitForState('web', 'Backup', 10_000);
  console.log(`    MASTER: n1 (${n1.mac}); VIP ${VIP} held by: ${await holder(lab)}`);

  await failover(lab, a1, a2, 'SIGTERM');

  say('restarting n1: it preempts the lower-priority master');
  a1 = startAgent(lab, n1, configYaml([doc]));
  await a1.waitForState('web', 'Master', 10_000);
  console.log(`    MASTER: n1 again; VIP held by: ${await holder(lab)}`);

  await failover(lab, a1, a2, 'SIGKILL');
  const t = Date.now();
  while ((await lab.addresses(n1)).includes(VIP) && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 50));
  console.log(`    the killed agent's VIP left n1 by itself ${Date.now() - t} ms after the takeover (address lifetime)`);
  say('done; tearing the lab down');
} finally {
  await lab.teardown();
}
