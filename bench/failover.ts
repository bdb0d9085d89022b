// `npm run bench:failover`: failover of kubelived and of keepalived, same lab, same run, same
// configuration (2 nodes, priorities 150/100, a client pinging the VIP every 5 ms).
//
// Each trial starts both nodes fresh, waits until the client is served by the master, then
// fires the trigger right after the master's next advert leaves (so both implementations are
// measured at the same point of the advert cycle and the spread is theirs, not the phase's).
// Measured from the trigger:
//   takeover  the backup's first gratuitous ARP for the VIP, seen by the client (the VIP is on
//             the backup by then: both implementations announce after adding the address)
//   outage    the client's longest gap between echo replies around the trigger
//   stale     SIGKILL only: when the dead master's VIP left its interface (or never)
// and, for a partition of the master that heals (LAB-NOTES weakness 2):
//   back      from the heal until the client's replies come from the real master's MAC
// Usage: npm run bench:failover [-- --trials N] [--quick (100 ms only)] [--trigger SIGTERM ...]
import { parseArgs } from 'node:util';
import { createLab, vip4 } from '../test/lab/lab.ts';
import type { Lab, LabNode } from '../test/lab/lab.ts';
import { startAgent, configYaml, vrrpInstance } from '../test/lab/agent.ts';
import { startKeepalived } from '../test/lab/keepalived.ts';
import { startProbe } from '../test/lab/probe.ts';
import { waitFor } from '../test/lab/wait.ts';

type Impl = 'kubelived' | 'keepalived';
type Trigger = 'SIGKILL' | 'SIGTERM' | 'link cut' | 'partition heal';

interface Trial { takeover: number | undefined; outage: number | undefined; stale: number | undefined; back?: number | undefined }

const { values } = parseArgs({ options: {
  trials: { type: 'string', default: '10' },
  quick: { type: 'boolean', default: false },
  trigger: { type: 'string', multiple: true },
} });
const TRIALS = Number(values.trials);
const INTERVALS_MS = values.quick ? [100] : [1000, 100];
const ALL_TRIGGERS: Trigger[] = ['SIGKILL', 'SIGTERM', 'link cut', 'partition heal'];
const TRIGGERS = values.trigger ? ALL_TRIGGERS.filter((t) => values.trigger?.includes(t)) : ALL_TRIGGERS;
const VIP = vip4(0);
const VRID = 51;

interface Running { stop(): Promise<void>; kill(): Promise<void>; waitMaster(ms: number): Promise<unknown> }

async function startPair(lab: Lab, impl: Impl, intervalMs: number): Promise<[Running, Running]> {
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  if (impl === 'kubelived') {
    const doc = vrrpInstance({ vrid: VRID, vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: `${intervalMs}ms` });
    return [n1, n2].map((n) => {
      const a = startAgent(lab, n, configYaml([doc]));
      return {
        stop: async () => { await a.proc.stop(5000); },
        kill: async () => { a.proc.signal('SIGKILL'); await a.proc.exited; },
        waitMaster: (ms: number) => a.waitForState('vi', 'Master', ms),
      };
    }) as [Running, Running];
  }
  const out: Running[] = [];
  for (const [n, prio] of [[n1, 150], [n2, 100]] as const) {
    const ka = await startKeepalived(lab, n, { version: 3, instances: [{ vrid: VRID, priority: prio, advertInt: intervalMs / 1000, vips: [`${VIP}/24`] }] }, { waitReady: false });
    out.push({ stop: () => ka.stop(), kill: () => ka.kill(), waitMaster: (ms: number) => ka.waitForState('MASTER', ms) });
  }
  return out as [Running, Running];
}

/** Resolves just after the next advert from `mac` passes the client's interface. */
async function nextAdvertFrom(lab: Lab, mac: string): Promise<void> {
  const dump = lab.spawn(lab.client.netns, ['tcpdump', '-i', 'eth0', '-n', '-l', '--immediate-mode', '-c', '1', `ether src ${mac} and ip proto 112`]);
  await dump.waitForLine(/VRRP/, 10_000, 0);
  await dump.exited;
}

/** Split the master off until the client follows the backup, heal, time the way back. */
async function healTrial(lab: Lab, intervalMs: number): Promise<Trial> {
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  const probe = await startProbe(lab, VIP);
  try {
    await probe.waitForReplyFrom(n1.mac, 5000, 0);
    await lab.partition(n1);
    await probe.waitForReplyFrom(n2.mac, 4 * intervalMs + 5000);
    await new Promise((r) => setTimeout(r, 2 * intervalMs));
    await nextAdvertFrom(lab, n2.mac);
    const t0 = Date.now();
    await lab.heal(n1);
    const back = await probe.waitForReplyFrom(n1.mac, 15_000, t0).then((r) => r.t - t0, () => undefined);
    return { takeover: undefined, outage: undefined, stale: undefined, back };
  } finally {
    await probe.stop();
  }
}

async function trial(lab: Lab, impl: Impl, intervalMs: number, trigger: Trigger): Promise<Trial> {
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  const [master, backup] = await startPair(lab, impl, intervalMs);
  try {
    if (trigger === 'partition heal') {
      await master.waitMaster(5 * intervalMs + 5000);
      return await healTrial(lab, intervalMs);
    }
    await master.waitMaster(5 * intervalMs + 5000);
    const probe = await startProbe(lab, VIP);
    await probe.waitForReplyFrom(n1.mac, 5000, 0);
    await nextAdvertFrom(lab, n1.mac);
    const t0 = Date.now();
    if (trigger === 'SIGKILL') await master.kill();
    else if (trigger === 'SIGTERM') void master.stop();
    else await lab.cutLink(n1);
    // Watch the dead master's interface from the trigger on, alongside the takeover.
    const staleGone = trigger === 'SIGKILL'
      ? waitFor('stale VIP gone', async () => ((await lab.addresses(n1)).includes(VIP) ? undefined : Date.now() - t0), 4 * intervalMs + 5000, 10)
        .catch(() => undefined)
      : Promise.resolve(undefined);
    await probe.waitForReplyFrom(n2.mac, 4 * intervalMs + 5000, t0);
    const stale = await staleGone;
    await new Promise((r) => setTimeout(r, 200));
    const r = await probe.stop();
    const garp = r.neighbour.find((e) => e.gratuitous && e.mac === n2.mac && e.t >= t0);
    const gap = r.gapAround(t0);
    return { takeover: garp && garp.t - t0, outage: gap && gap.ms > 3 * r.intervalMs ? gap.ms : 0, stale };
  } finally {
    await lab.heal(n1);
    await lab.restoreLink(n1);
    await Promise.all([master.kill().catch(() => undefined), backup.stop()]);
    // The next trial must start with no VIP anywhere (keepalived leaves it behind on SIGKILL).
    for (const n of [n1, n2]) await lab.exec(n.netns, ['ip', 'addr', 'del', `${VIP}/24`, 'dev', 'eth0'], { allowFail: true });
  }
}

function stats(xs: (number | undefined)[]): { min: number; median: number; max: number } | undefined {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return { min: v[0] ?? 0, median: v[Math.floor((v.length - 1) / 2)] ?? 0, max: v[v.length - 1] ?? 0 };
}

const fmt = (s: ReturnType<typeof stats>): string => (s ? `${s.min.toFixed(0)} / ${s.median.toFixed(0)} / ${s.max.toFixed(0)}` : 'n/a');
const ratio = (a: ReturnType<typeof stats>, b: ReturnType<typeof stats>): string =>
  a && b && b.median > 0 ? `${(a.min / b.min).toFixed(2)} / ${(a.median / b.median).toFixed(2)} / ${(a.max / b.max).toFixed(2)}` : 'n/a';

const lab = await createLab({ nodes: 2, name: 'benchfo' });
const rows: string[] = [];
const heals: string[] = [];
try {
  for (const intervalMs of INTERVALS_MS) {
    for (const trigger of TRIGGERS) {
      const results: Record<Impl, Trial[]> = { kubelived: [], keepalived: [] };
      for (let i = 0; i < TRIALS; i++) {
        // Alternate so slow drift of the machine affects both alike.
        for (const impl of (i % 2 ? ['keepalived', 'kubelived'] : ['kubelived', 'keepalived']) as Impl[]) {
          const r = await trial(lab, impl, intervalMs, trigger);
          results[impl].push(r);
          console.error(`${intervalMs}ms ${trigger} #${i + 1} ${impl}: ${trigger === 'partition heal' ? `client back on the master ${r.back?.toFixed(1) ?? 'never (15 s)'} ms` : `takeover ${r.takeover?.toFixed(1)} ms, outage ${r.outage?.toFixed(1)} ms`}${r.stale !== undefined ? `, stale VIP gone ${r.stale} ms` : ''}`);
        }
      }
      if (trigger === 'partition heal') {
        const kb = results.kubelived.map((r) => r.back);
        const cb = results.keepalived.map((r) => r.back);
        heals.push(`| ${intervalMs} ms | ${fmt(stats(kb))} (${kb.filter((x) => x !== undefined && x <= 500).length}/${kb.length} within 0.5 s) | ${fmt(stats(cb))} (${cb.filter((x) => x !== undefined && x <= 500).length}/${cb.length} within 0.5 s) |`);
        continue;
      }
      const k = { take: stats(results.kubelived.map((r) => r.takeover)), out: stats(results.kubelived.map((r) => r.outage)) };
      const c = { take: stats(results.keepalived.map((r) => r.takeover)), out: stats(results.keepalived.map((r) => r.outage)) };
      const stale = trigger === 'SIGKILL'
        ? ` | ${fmt(stats(results.kubelived.map((r) => r.stale)))} | ${results.keepalived.every((r) => r.stale === undefined) ? 'stays' : fmt(stats(results.keepalived.map((r) => r.stale)))}`
        : ' | | ';
      rows.push(`| ${intervalMs} ms | ${trigger} | ${fmt(k.take)} | ${fmt(c.take)} | ${ratio(k.take, c.take)} | ${fmt(k.out)} | ${fmt(c.out)}${stale} |`);
    }
  }
} finally {
  await lab.teardown();
}
console.log(`\nfailover, ${TRIALS} trials per cell, ms from the trigger, min / median / max`);
console.log('| advert | trigger | takeover kubelived | takeover keepalived | ratio | outage kubelived | outage keepalived | stale VIP gone kubelived | stale VIP gone keepalived |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
console.log('\npartition heal: ms from the heal until the client is answered from the master\'s MAC again, min / median / max');
console.log('| advert | kubelived | keepalived |');
console.log('|---|---|---|');
for (const r of heals) console.log(r);
