// `npm run bench:ipvs`: the agent programming IPVS next to ipvsadm, in one VM run (test/ipvs-vm;
// the host kernel has no IPVS). 1,000 services x 10 destinations:
//   full load   the agent's reconcile from empty (its own timing: dump, plan, apply) vs `ipvsadm -R`
//   one change  one destination's weight with all 10,000 present: the agent's reconcile after
//               SIGHUP vs one `ipvsadm -e` command (process start included: that is what it costs)
//   remove all  the agent's reconcile to an empty config vs `ipvsadm -R` of 1,000 -D lines
// and the agent's RSS while it holds the 10,000 destinations. The VM is software-emulated
// (TCG); the slowdown factor against the host is printed with the results.
import { mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { bootVm } from '../test/ipvs-vm/vm.ts';
import type { Vm, VmProcess } from '../test/ipvs-vm/vm.ts';

const SERVICES = 1000;
const DESTS = 10;
const CHANGES = 5;
const VIP = '198.18.0.100';
const rs = (j: number): string => `198.18.1.${j + 1}`;

function agentConfig(weightOf: (i: number, j: number) => number, services = SERVICES): string {
  const docs: Record<string, unknown>[] = [{
    apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'vi' },
    spec: { vrid: 51, interface: 'eth0', virtualIPs: [`${VIP}/24`], advertisementInterval: '1s' },
  }];
  for (let i = 0; i < services; i++) {
    docs.push({
      apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: `vs-${i}` },
      spec: {
        vrrpInstanceRef: 'vi', virtualIP: VIP, port: 10_000 + i, scheduler: 'wlc', forwarding: 'NAT',
        realServers: Array.from({ length: DESTS }, (_, j) => ({ address: rs(j), port: 8080, weight: weightOf(i, j) })),
      },
    });
  }
  return docs.map((d) => stringify(d)).join('---\n');
}

function ipvsadmRules(): string {
  const lines: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    lines.push(`-A -t ${VIP}:${10_000 + i} -s wlc`);
    for (let j = 0; j < DESTS; j++) lines.push(`-a -t ${VIP}:${10_000 + i} -r ${rs(j)}:8080 -m -w 1`);
  }
  return `${lines.join('\n')}\n`;
}

function ipvsadmDeletes(): string {
  return `${Array.from({ length: SERVICES }, (_, i) => `-D -t ${VIP}:${10_000 + i}`).join('\n')}\n`;
}

/** Milliseconds of a shell command in a namespace, timed inside the guest. */
async function timed(vm: Vm, ns: string, command: string, input?: string): Promise<number> {
  const out = await vm.run(['sh', '-c', `s=$(date +%s%N); ip netns exec ${ns} ${command}; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`],
    { timeoutMs: 600_000, ...(input !== undefined ? { input } : {}) });
  return Number(out.trim().split('\n').pop()) / 1000;
}

/** Waits for the agent's next "IPVS reconciled" line with `ops` operations; returns its ms. */
async function reconciled(agent: VmProcess, ops: number, seen: number): Promise<{ ms: number; seen: number }> {
  const end = Date.now() + 900_000;
  for (;;) {
    const lines = agent.stdout.split('\n').filter((l) => l.includes('"msg":"IPVS reconciled"'));
    for (const l of lines.slice(seen)) {
      const j = JSON.parse(l) as { ops: number; failed: number; ms: number };
      if (j.failed > 0) throw new Error(`reconcile failed: ${l}`);
      if (j.ops === ops) return { ms: j.ms, seen: lines.length };
    }
    if (Date.now() > end || !agent.running) throw new Error(`no reconcile with ${ops} operations:\n${agent.stderr.slice(-2000)}${agent.stdout.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

const vm = await bootVm({ memoryMiB: 2048 });
try {
  const slowdown = await vm.measureSlowdown();
  await vm.run(`set -e; modprobe ip_vs
    for ns in agent ref peer; do ip netns add $ns; done
    ip -n agent link add eth0 type veth peer name eth0 netns peer
    ip -n agent addr add 198.18.0.11/24 dev eth0; ip -n agent link set eth0 up; ip -n peer link set eth0 up`);
  const dir = join(vm.shareDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'config.yaml');
  const write = (text: string): void => {
    writeFileSync(`${configPath}.tmp`, text);
    renameSync(`${configPath}.tmp`, configPath);
  };

  // ipvsadm, in a namespace of its own.
  const refLoad = await timed(vm, 'ref', 'ipvsadm -R', ipvsadmRules());
  const refChange: number[] = [];
  for (let k = 0; k < CHANGES; k++) refChange.push(await timed(vm, 'ref', `ipvsadm -e -t ${VIP}:10500 -r ${rs(3)}:8080 -m -w ${k + 2}`));
  const refRemove = await timed(vm, 'ref', 'ipvsadm -R', ipvsadmDeletes());

  // The agent.
  write(agentConfig(() => 1));
  const agent = vm.spawn(['ip', 'netns', 'exec', 'agent', 'node_modules/.bin/node', 'dist/cli/main.js', 'agent',
    '--config', configPath, '--node', 'n1', '--state-dir', join(dir, 'state')]);
  let r = await reconciled(agent, SERVICES * (DESTS + 1), 0);
  const load = r.ms;
  const pid = await agent.started;
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(await vm.run(['cat', `/proc/${pid}/status`]))?.[1]);
  const change: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    write(agentConfig((i, j) => (i === 500 && j === 3 ? k + 2 : 1)));
    agent.kill('SIGHUP');
    r = await reconciled(agent, 1, r.seen);
    change.push(r.ms);
  }
  write(agentConfig(() => 1, 0));
  agent.kill('SIGHUP');
  r = await reconciled(agent, SERVICES, r.seen);
  const remove = r.ms;
  agent.kill('SIGTERM');
  await agent.exited;

  console.log(`\nIPVS, ${SERVICES} services x ${DESTS} destinations, in a TCG VM (JavaScript ${slowdown.toFixed(1)}x slower than on the host); ms`);
  console.log('| step | kubelived agent | ipvsadm | ratio |');
  console.log('|---|---|---|---|');
  console.log(`| full load | ${load.toFixed(0)} | ${refLoad.toFixed(0)} (-R) | ${(load / refLoad).toFixed(2)} |`);
  console.log(`| one weight change (median of ${CHANGES}) | ${median(change).toFixed(1)} | ${median(refChange).toFixed(1)} (-e) | ${(median(change) / median(refChange)).toFixed(2)} |`);
  console.log(`| remove everything | ${remove.toFixed(0)} | ${refRemove.toFixed(0)} (-R of -D) | ${(remove / refRemove).toFixed(2)} |`);
  console.log(`\nagent RSS holding ${SERVICES * DESTS} destinations: ${(rssKiB / 1024).toFixed(1)} MiB`);
} finally {
  await vm.shutdown();
}
