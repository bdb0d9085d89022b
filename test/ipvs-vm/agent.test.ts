// The standalone agent programming a real IPVS kernel, checked the way an operator would:
// ipvsadm output, and which real server answers a client's requests.
//
// Topology inside the VM (each a network namespace):
//   c (client) 198.18.0.2 ── eth0 ── dir (director, the agent) eth0 198.18.0.11, VIP 198.18.0.100
//   dir br1 198.18.1.1 ── rs1 198.18.1.11, rs2 198.18.1.12, sorry 198.18.1.20  (busybox httpd :8080)
// The client is curl (busybox-static's wget crashes resolving names in a static binary).
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { useVm } from './vm.ts';
import type { Vm, VmProcess } from './vm.ts';

const vm = useVm();
const VIP = '198.18.0.100';
const SERVERS = { rs1: '198.18.1.11', rs2: '198.18.1.12', sorry: '198.18.1.20' } as const;

const TOPOLOGY = `
set -e
modprobe ip_vs
for ns in c dir rs1 rs2 sorry; do ip netns add $ns; ip -n $ns link set lo up; done
ip -n c link add eth0 type veth peer name eth0 netns dir
ip -n c addr add 198.18.0.2/24 dev eth0; ip -n c link set eth0 up
ip -n c route add 198.18.1.0/24 via 198.18.0.11
ip -n dir addr add 198.18.0.11/24 dev eth0; ip -n dir link set eth0 up
ip -n dir link add br1 type bridge; ip -n dir addr add 198.18.1.1/24 dev br1; ip -n dir link set br1 up
ip netns exec dir sysctl -qw net.ipv4.ip_forward=1
for rs in rs1 rs2 sorry; do
  ip -n dir link add p-$rs type veth peer name eth0 netns $rs
  ip -n dir link set p-$rs master br1 up
  ip -n $rs link set eth0 up
done
ip -n rs1 addr add ${SERVERS.rs1}/24 dev eth0
ip -n rs2 addr add ${SERVERS.rs2}/24 dev eth0
ip -n sorry addr add ${SERVERS.sorry}/24 dev eth0
for rs in rs1 rs2 sorry; do
  ip -n $rs route add default via 198.18.1.1
  mkdir -p /tmp/www-$rs && echo $rs > /tmp/www-$rs/index.html
done
`;

const httpd = new Map<keyof typeof SERVERS, VmProcess>();

function startHttpd(v: Vm, rs: keyof typeof SERVERS): void {
  httpd.set(rs, v.spawn(['ip', 'netns', 'exec', rs, 'busybox', 'httpd', '-f', '-p', '8080', '-h', `/tmp/www-${rs}`]));
}

async function stopHttpd(rs: keyof typeof SERVERS): Promise<void> {
  const p = httpd.get(rs);
  p?.kill('SIGKILL');
  await p?.exited;
}

/** Who answers n requests to the VIP, in order (a new connection each). */
async function answers(v: Vm, n: number): Promise<string[]> {
  const out = await v.run(`for i in $(seq ${n}); do ip netns exec c curl -s --max-time 5 http://${VIP}/ || echo FAIL; done`, { timeoutMs: 120_000 });
  return out.trim().split('\n');
}

async function ipvsadm(v: Vm): Promise<string> {
  return v.run(['ip', 'netns', 'exec', 'dir', 'ipvsadm', '-Ln']);
}

/** The real-server lines of the VIP's service: "198.18.1.11:8080 Masq 2". */
async function realServers(v: Vm): Promise<string[]> {
  const lines = (await ipvsadm(v)).split('\n');
  const start = lines.findIndex((l) => l.startsWith(`TCP  ${VIP}:80`));
  if (start < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^\s+->\s+(\S+)\s+(\w+)\s+(\d+)/.exec(l);
    if (!m) break;
    out.push(`${m[1]} ${m[2]} ${m[3]}`);
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function config(extra: Record<string, unknown> = {}, realServers = [{ address: SERVERS.rs1, port: 8080, weight: 1 }, { address: SERVERS.rs2, port: 8080, weight: 1 }]): string {
  return [
    { apiVersion: 'kubelived.io/v1alpha1', kind: 'VrrpInstance', metadata: { name: 'vi' }, spec: { vrid: 51, interface: 'eth0', virtualIPs: [`${VIP}/24`], advertisementInterval: '100ms' } },
    {
      apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: 'web' },
      spec: {
        vrrpInstanceRef: 'vi', virtualIP: VIP, port: 80, scheduler: 'rr', forwarding: 'NAT', realServers,
        healthCheck: { type: 'TCP', interval: '1s', timeout: '1s', rise: 1, fall: 2 },
        sorryServer: { address: SERVERS.sorry, port: 8080 },
        ...extra,
      },
    },
  ].map((d) => stringify(d)).join('---\n');
}

let dir: string;
let agent: VmProcess | undefined;

function writeConfig(text: string): string {
  const path = join(dir, 'config.yaml');
  // Rename so the agent never reads a half-written file.
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
  return path;
}

function startAgent(v: Vm): VmProcess {
  const p = v.spawn(['ip', 'netns', 'exec', 'dir', 'node_modules/.bin/node', 'dist/cli/main.js', 'agent',
    '--config', join(dir, 'config.yaml'), '--node', 'n1', '--state-dir', join(dir, 'state')]);
  agent = p;
  return p;
}

let topology: Promise<void> | undefined;
/** The namespaces and servers, built once for the file by the first test that runs. */
function ready(): Promise<void> {
  topology ??= (async () => {
    const v = vm();
    await v.run(TOPOLOGY, { timeoutMs: 120_000 });
    for (const rs of Object.keys(SERVERS) as (keyof typeof SERVERS)[]) startHttpd(v, rs);
    dir = join(v.shareDir, 'agent');
    mkdirSync(dir, { recursive: true });
  })();
  return topology;
}

test('the agent programs the VirtualServer: ipvsadm shows it, requests alternate per rr', async () => {
  await ready();
  const v = vm();
  await v.run(['ip', 'netns', 'exec', 'dir', 'ipvsadm', '-A', '-t', '10.96.0.1:443', '-s', 'rr']);   // a foreign service
  writeConfig(config());
  const a = startAgent(v);
  await a.waitForLine(/"to":"Master"/, 120_000);
  await until('both real servers', async () => ((await realServers(v)).length === 2 ? true : undefined), 60_000);
  assert.deepEqual(await realServers(v), [`${SERVERS.rs1}:8080 Masq 1`, `${SERVERS.rs2}:8080 Masq 1`]);
  const got = await answers(v, 4);
  assert.deepEqual([...got].sort(), ['rs1', 'rs1', 'rs2', 'rs2']);
  assert.notEqual(got[0], got[1], `rr alternates: ${got.join(' ')}`);
  assert.match(await ipvsadm(v), /TCP {2}10\.96\.0\.1:443 rr/, 'the foreign service is untouched');
});

test('a real server failing its check stops getting connections; it comes back after rise', async () => {
  await ready();
  const v = vm();
  await stopHttpd('rs2');
  await until('rs2 removed', async () => ((await realServers(v)).length === 1 ? true : undefined), 60_000);
  assert.deepEqual(await realServers(v), [`${SERVERS.rs1}:8080 Masq 1`]);
  assert.deepEqual(await answers(v, 3), ['rs1', 'rs1', 'rs1']);
  startHttpd(v, 'rs2');
  await until('rs2 back', async () => ((await realServers(v)).length === 2 ? true : undefined), 60_000);
});

test('quorum lost: the sorry server takes the connections', async () => {
  await ready();
  const v = vm();
  await stopHttpd('rs1');
  await stopHttpd('rs2');
  await until('sorry server in', async () => {
    const rs = await realServers(v);
    return rs.length === 1 && rs[0]?.startsWith(SERVERS.sorry) ? true : undefined;
  }, 60_000);
  assert.deepEqual(await answers(v, 2), ['sorry', 'sorry']);
  startHttpd(v, 'rs1');
  startHttpd(v, 'rs2');
  await until('real servers back', async () => ((await realServers(v)).length === 2 ? true : undefined), 60_000);
});

test('a weight change is applied in place; an agent restart changes nothing in the kernel', async () => {
  await ready();
  const v = vm();
  const from = agent?.stdout.length ?? 0;
  writeConfig(config({ scheduler: 'wrr' }, [{ address: SERVERS.rs1, port: 8080, weight: 3 }, { address: SERVERS.rs2, port: 8080, weight: 1 }]));
  // The guest cannot watch a file the host changes over 9p: tell the agent, as an operator would.
  agent?.kill('SIGHUP');
  await until('weights', async () => ((await realServers(v)).join() === `${SERVERS.rs1}:8080 Masq 3,${SERVERS.rs2}:8080 Masq 1` ? true : undefined), 60_000);
  assert.match(await ipvsadm(v), new RegExp(`TCP  ${VIP.replace(/\./g, '\\.')}:80 wrr`));
  const got = await answers(v, 8);
  assert.equal(got.filter((x) => x === 'rs1').length, 6, `wrr 3:1 over 8 requests: ${got.join(' ')}`);
  assert.match(agent?.stdout.slice(from) ?? '', /"msg":"IPVS reconciled"/);

  const before = await ipvsadm(v);
  agent?.kill('SIGTERM');
  await agent?.exited;
  const a = startAgent(v);
  await a.waitForLine(/IPVS state recovered from the kernel/, 120_000);
  await a.waitForLine(/"to":"Master"/, 120_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.doesNotMatch(a.stdout, /IPVS reconciled/, 'no IPVS operation after a restart over the same config');
  assert.equal(await ipvsadm(v), before);
  a.kill('SIGTERM');
  await a.exited;
});

test('persistence and the sh scheduler keep one client on one real server', async () => {
  await ready();
  const v = vm();
  writeConfig(config({ persistence: { timeout: '60s' } }));
  const a = startAgent(v);
  await a.waitForLine(/"to":"Master"/, 120_000);
  await until('persistence', async () => (/rr persistent 60/.test(await ipvsadm(v)) ? true : undefined), 60_000);
  const sticky = await answers(v, 6);
  assert.equal(new Set(sticky).size, 1, `persistent: one server for one client, got ${sticky.join(' ')}`);
  assert.notEqual(sticky[0], 'FAIL');

  writeConfig(config({ scheduler: 'sh' }));
  a.kill('SIGHUP');
  await until('sh', async () => {
    const out = await ipvsadm(v);
    return new RegExp(`TCP  ${VIP.replace(/\./g, '\\.')}:80 sh\\s*$`, 'm').test(out) ? true : undefined;
  }, 60_000);
  const hashed = await answers(v, 6);
  assert.equal(new Set(hashed).size, 1, `sh: the source address picks one server, got ${hashed.join(' ')}`);
  assert.notEqual(hashed[0], 'FAIL');
  a.kill('SIGTERM');
  await a.exited;
});
