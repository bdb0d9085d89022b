// A persistent lab for trying things by hand (README: "Run a two-node failover by hand").
//
//   node test/lab/cli.ts up   [--nodes N] [--name NAME] [--no-ipv6]   namespaces kl0-NAME-*
//   node test/lab/cli.ts down [--name NAME]
//   node test/lab/cli.ts sweep      remove leftovers of test labs whose owning process died
//
// NAME defaults to demo. A persistent lab has no owner process, so it is never swept; remove
// it with `down`.
import { createLab, destroyPersistentLab, persistentLabNamespaces, sweepStaleLabs, vip4, vip6 } from './lab.ts';

function usage(): never {
  console.error('usage: node test/lab/cli.ts up [--nodes N] [--name NAME] [--no-ipv6] | down [--name NAME] | sweep');
  process.exit(2);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) usage();
  return v;
}

async function main(): Promise<void> {
  const cmd = process.argv[2];
  const name = arg('--name') ?? 'demo';
  if (cmd === 'up') {
    const nodes = Number(arg('--nodes') ?? '2');
    if (persistentLabNamespaces(name).length) {
      console.error(`lab ${name} exists (${persistentLabNamespaces(name).join(' ')}); run: node test/lab/cli.ts down --name ${name}`);
      process.exit(1);
    }
    const lab = await createLab({ nodes, name, persistent: true, ipv6: !process.argv.includes('--no-ipv6') });
    const rows = lab.hosts.map((h) => [h.name, h.netns, h.mac, `${h.ipv4}/${h.prefix4}`, lab.ipv6 ? `${h.ipv6}/${h.prefix6}` : '-', lab.ipv6 ? h.linkLocal : '-', `${lab.bridgeNetns}:${h.port}`]);
    const head = ['host', 'netns', 'mac', 'ipv4', 'ipv6', 'link-local', 'bridge port'];
    const w = head.map((hd, i) => Math.max(hd.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(w[i] ?? 0)).join('  ');
    console.log(`lab ${lab.id} is up: bridge br0 in ${lab.bridgeNetns}\n`);
    console.log(fmt(head));
    for (const r of rows) console.log(fmt(r));
    const n1 = lab.nodes[0];
    console.log(`
VIPs for experiments: ${vip4()}-${vip4(99)}${lab.ipv6 ? `, ${vip6()}-${vip6(99)}` : ''}

run a command in a host:       ip netns exec ${n1?.netns ?? ''} <command>      (or: ip -n ${n1?.netns ?? ''} addr)
ping the VIP from the client:  ip netns exec ${lab.client.netns} ping ${vip4()}
client's neighbour entry:      ip -n ${lab.client.netns} neigh show ${vip4()}
cut n1's link (carrier down):  ip -n ${lab.bridgeNetns} link set ${n1?.port ?? ''} down      (restore: up)
silent partition of n1:        ip -n ${lab.bridgeNetns} link set ${n1?.port ?? ''} nomaster  (heal: master br0)
watch VRRP on the wire:        ip netns exec ${lab.bridgeNetns} tcpdump -i br0 -n -e 'ip proto 112 or ip6 proto 112 or arp'
remove the lab:                node test/lab/cli.ts down --name ${name}`);
  } else if (cmd === 'down') {
    const removed = destroyPersistentLab(name);
    console.log(removed.length ? `removed ${removed.join(' ')}` : `no lab named ${name}`);
  } else if (cmd === 'sweep') {
    const removed = sweepStaleLabs();
    console.log(removed.length ? `removed ${removed.join(' ')}` : 'nothing to sweep');
  } else usage();
}

await main();
