// `npm run bench:footprint`: memory and CPU of a node running 50 VRRP instances at 100 ms
// adverts, kubelived next to keepalived in the same lab and run, each once as the master of all
// 50 (sending 500 adverts/s) and once as the backup (receiving them).
import { createLab } from '../test/lab/lab.ts';
import { vip4 } from '../test/lab/lab.ts';
import { startAgent, configYaml, vrrpInstance } from '../test/lab/agent.ts';
import { startKeepalived } from '../test/lab/keepalived.ts';
import { measure } from './proc-stats.ts';

const INSTANCES = 50;
const WARMUP_MS = 5000;
const WINDOW_MS = 20_000;

const lab = await createLab({ nodes: 2, name: 'footprint' });
const [n1, n2] = lab.nodes;
if (!n1 || !n2) throw new Error('lab without nodes');

function klConfig(priority: number): string {
  return configYaml(Array.from({ length: INSTANCES }, (_, i) => vrrpInstance({
    name: `vi-${i + 1}`, vrid: i + 1, vips: [`${vip4(i)}/24`], priority, advertisementInterval: '100ms',
  })));
}
function kaConfig(priority: number): Parameters<typeof startKeepalived>[2] {
  return {
    version: 3,
    instances: Array.from({ length: INSTANCES }, (_, i) => ({ name: `VI_${i + 1}`, vrid: i + 1, priority, advertInt: 0.1, vips: [`${vip4(i)}/24`] })),
  };
}

interface Row { role: string; kubelived: { cpuPercent: number; rssMiB: number }; keepalived: { cpuPercent: number; rssMiB: number } }
const rows: Row[] = [];
try {
  for (const klIsMaster of [true, false]) {
    const kl = startAgent(lab, n1, klConfig(klIsMaster ? 150 : 100));
    const ka = await startKeepalived(lab, n2, kaConfig(klIsMaster ? 100 : 150), { readyTimeoutMs: 15_000 });
    await kl.proc.waitForLine(/"to":"(Master|Backup)"/, 15_000);
    console.error(`warming up (${klIsMaster ? 'kubelived' : 'keepalived'} master of ${INSTANCES})...`);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const kaPids = [ka.proc.pid, ka.vrrpPid()].filter((p): p is number => p !== undefined);
    const [klStats, kaStats] = await Promise.all([measure([kl.proc.pid], WINDOW_MS), measure(kaPids, WINDOW_MS)]);
    rows.push({ role: klIsMaster ? 'kubelived master, keepalived backup' : 'keepalived master, kubelived backup', kubelived: klStats, keepalived: kaStats });
    await kl.proc.stop(5000);
    await ka.stop();
  }
} finally {
  await lab.teardown();
}

console.log(`\n${INSTANCES} VRRPv3 instances, 100 ms adverts, ${WINDOW_MS / 1000} s window`);
console.log('| roles | kubelived CPU | keepalived CPU | kubelived RSS | keepalived RSS |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.role} | ${r.kubelived.cpuPercent.toFixed(1)} % | ${r.keepalived.cpuPercent.toFixed(1)} % | ${r.kubelived.rssMiB.toFixed(1)} MiB | ${r.keepalived.rssMiB.toFixed(1)} MiB |`);
}
