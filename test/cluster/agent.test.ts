// The agent in Kubernetes mode against a real kube-apiserver with the chart's RBAC: two lab
// nodes run the built CLI as the DaemonSet would (same args and env, KUBECONFIG standing in for
// the ServiceAccount mount). What is checked is what a user sees: which MAC answers the VIP,
// and what `kubectl get -o json` says in status.nodes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnAgent, vrrpInstance } from '../lab/agent.ts';
import type { AgentProcess } from '../lab/agent.ts';
import { vip4 } from '../lab/lab.ts';
import type { LabNode } from '../lab/lab.ts';
import { startProbe } from '../lab/probe.ts';
import { sleep } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';
import { assertServedBy, holders } from '../netns/scenario.ts';
import { startTestCluster } from './lib/cluster.ts';
import type { Identity, TestCluster } from './lib/cluster.ts';
import { list } from './lib/manifests.ts';
import { MANIFESTS_FILE } from '../../scripts/render-manifests.ts';

const NS = 'kubelived-system';
// The built CLI (npm run build), as the image runs it.
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

let cluster: TestCluster | undefined;
before(async () => {
  cluster = await startTestCluster({ nodes: 2, name: 'agent' });
  // The install without Helm: CRDs, RBAC, the controller Deployment (no kubelet runs it here).
  await cluster.kubectl(['apply', '-f', MANIFESTS_FILE]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io']);
});
after(async () => {
  await cluster?.teardown();
});
function c(): TestCluster {
  if (!cluster) throw new Error('cluster not started');
  return cluster;
}
function nodes(): [LabNode, LabNode] {
  const [n1, n2] = c().lab.nodes;
  assert.ok(n1 && n2);
  return [n1, n2];
}

/** One agent per node, with the DaemonSet's args and env; stopped (SIGTERM) when the test ends. */
function startAgents(t: { after(fn: () => Promise<void>): void }, as: Identity = 'agent', on: LabNode[] = c().lab.nodes): AgentProcess[] {
  const agents = on.map((n) => {
    // Separate nodes have separate disks: each agent its own state dir.
    const stateDir = mkdtempSync(join(tmpdir(), `kl-${n.name}-state-`));
    t.after(() => Promise.resolve(rmSync(stateDir, { recursive: true, force: true })));
    return spawnAgent(c().lab, n,
      ['--kubernetes', '--node', n.name, '--namespace', NS, '--metrics-addr', '0.0.0.0:9641', '--state-dir', stateDir],
      { NODE_NAME: n.name, POD_NAMESPACE: NS, KUBECONFIG: c().kubeconfig[as] });
  });
  t.after(async () => {
    await Promise.all(agents.map((a) => a.proc.stop(8000)));
  });
  return agents;
}

interface Entry {
  node: string;
  state: string;
  effectivePriority?: number;
  since?: string;
  reason?: string;
  masterIP?: string;
  healthy?: number;
  total?: number;
  quorum?: boolean;
  realServers?: { address: string; port: number; weight: number; healthy: boolean }[];
}

/** status.nodes of an object, by node. */
async function entries(resource: string, namespace?: string): Promise<Record<string, Entry>> {
  const { stdout } = await c().kubectl(['get', resource, ...(namespace ? ['-n', namespace] : []), '-o', 'json']);
  const o = JSON.parse(stdout) as { status?: { nodes?: Entry[] } };
  return Object.fromEntries((o.status?.nodes ?? []).map((e) => [e.node, e]));
}

async function waitForStates(resource: string, want: Record<string, string>, timeoutMs: number, namespace?: string): Promise<Record<string, Entry>> {
  return waitFor(`${resource} status.nodes ${JSON.stringify(want)}`, async () => {
    const e = await entries(resource, namespace);
    return Object.entries(want).every(([n, s]) => e[n]?.state === s) && Object.keys(e).length === Object.keys(want).length ? e : undefined;
  }, timeoutMs, 100);
}

async function apply(docs: Record<string, unknown>[], t: { after(fn: () => Promise<void>): void }): Promise<void> {
  await c().kubectl(['apply', '-f', '-'], { input: list(docs) });
  t.after(async () => {
    await c().kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', '-'], { input: list(docs), allowFail: true });
  });
}

const n1First = [{ node: 'n1', priority: 150 }, { node: 'n2', priority: 100 }];

interface Cond { type: string; status: string; reason: string; message: string }
interface EventItem { reason: string; note: string; type: string; regarding: { kind: string; name: string }; reportingInstance: string }

/** `kubelived controller` (the built CLI) in the client namespace, as its Deployment runs it; SIGTERM when the test ends. */
function startController(t: { after(fn: () => Promise<void>): void }): void {
  const proc = c().lab.spawn(c().lab.client.netns, [process.execPath, CLI, 'controller', '--namespace', NS],
    { env: { KUBECONFIG: c().kubeconfig.controller, POD_NAME: 'kubelived-controller-test' } });
  t.after(async () => {
    await proc.stop(10_000);
  });
}

async function condition(resource: string, type: string, namespace?: string): Promise<Cond | undefined> {
  const { stdout } = await c().kubectl(['get', resource, ...(namespace ? ['-n', namespace] : []), '-o', 'json']);
  return (JSON.parse(stdout) as { status?: { conditions?: Cond[] } }).status?.conditions?.find((x) => x.type === type);
}

async function events(namespace: string, kind: string, name: string): Promise<EventItem[]> {
  const { stdout } = await c().kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json']);
  return (JSON.parse(stdout) as { items: EventItem[] }).items.filter((e) => e.regarding.kind === kind && e.regarding.name === name);
}

// First in this file: no agent has a liveness Lease yet, as on a fresh install.
test('an applied VrrpInstance: n1 answers for the VIP, and status, Events and Leases say so; starting agents raise no Warning', async (t) => {
  const [n1, n2] = nodes();
  const vip = vip4(10);
  startController(t);
  await apply([vrrpInstance({ name: 'web', vrid: 61, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' })], t);
  // The controller leads and has looked at the instance before the agents start.
  await waitFor('the controller accepts web', async () => (await condition('vrrpinstance/web', 'Accepted'))?.status === 'True', 30_000, 200);
  const [a1, a2] = startAgents(t);
  await a1?.waitForState('web', 'Master', 15_000);
  await a2?.waitForState('web', 'Backup', 15_000);
  await assertServedBy(c().lab, vip, n1);

  const vri = await waitForStates('vrrpinstance/web', { n1: 'MASTER', n2: 'BACKUP' }, 10_000);
  assert.equal(vri.n1?.effectivePriority, 150);
  assert.equal(vri.n1?.masterIP, n1.ipv4);
  assert.equal(vri.n2?.effectivePriority, 100);
  assert.ok(Date.parse(vri.n1?.since ?? '') > Date.now() - 60_000, `since ${vri.n1?.since}`);
  // A backup names the master it hears (from the VRRP thread's snapshots).
  await waitFor('n2 names the master', async () => (await entries('vrrpinstance/web')).n2?.masterIP === n1.ipv4, 5000);

  // Each agent owns its own entry only (field manager kubelived-agent/<node>); the controller its summary.
  const { stdout } = await c().kubectl(['get', 'vrrpinstance/web', '--show-managed-fields', '-o', 'json']);
  const managers = (JSON.parse(stdout) as { metadata: { managedFields: { manager: string; subresource?: string }[] } }).metadata.managedFields
    .filter((m) => m.subresource === 'status').map((m) => m.manager).sort();
  assert.deepEqual(managers, ['kubelived-agent/n1', 'kubelived-agent/n2', 'kubelived-controller']);

  // (n2 may have been master for a moment before n1 started: its Event is right too.)
  const event = await waitFor('n1\'s BecameMaster Event', async () =>
    (await events('default', 'VrrpInstance', 'web')).find((e) => e.reason === 'BecameMaster' && e.reportingInstance === 'n1'), 10_000, 200);
  assert.match(event.note, /^n1 became MASTER \(was BACKUP\): .+\.$/);
  const backup = (await events('default', 'VrrpInstance', 'web')).find((e) => e.reason === 'BecameBackup' && e.reportingInstance === 'n2');
  assert.equal(backup?.note, 'n2 became BACKUP (was INIT): the instance started.');

  for (const n of [n1, n2]) {
    const lease = await waitFor(`Lease kubelived-agent-${n.name}`, async () => {
      const r = await c().kubectl(['get', 'lease', `kubelived-agent-${n.name}`, '-n', NS, '-o', 'jsonpath={.spec.holderIdentity} {.spec.leaseDurationSeconds}'], { allowFail: true });
      return r.code === 0 ? r.stdout : undefined;
    }, 10_000, 200);
    assert.equal(lease, `${n.name} 40`);
  }
  // The agents wrote their entries before their first Lease renewal: that is a start, not a failure.
  await waitFor('Ready MasterElected', async () => (await condition('vrrpinstance/web', 'Ready'))?.reason === 'MasterElected', 10_000, 200);
  await sleep(2000); // the controller's Events go out in batches
  assert.deepEqual((await events('default', 'VrrpInstance', 'web')).filter((e) => e.reportingInstance !== 'n1' && e.reportingInstance !== 'n2').map((e) => `${e.reason}: ${e.note}`), []);
  assert.equal((await condition('vrrpinstance/web', 'Degraded'))?.status, 'False');
});

test('a kernel without IPVS (this host\'s): each entry says why, the VirtualServer is not Ready and READY counts no server', async (t) => {
  const [n1] = nodes();
  const vip = vip4(17);
  startController(t);
  await apply([
    vrrpInstance({ name: 'noipvs', vrid: 68, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' }),
    {
      apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: 'noipvs', namespace: 'default' },
      spec: { vrrpInstanceRef: 'noipvs', virtualIP: vip, port: 80, realServers: [{ address: '198.18.1.1', port: 8080, weight: 2 }, { address: '198.18.1.2', port: 8080 }] },
    },
  ], t);
  const [a1] = startAgents(t);
  await a1?.waitForState('noipvs', 'Master', 15_000);
  await assertServedBy(c().lab, vip, n1, 10_000);
  const why = 'IPVS is not available in this kernel (modprobe ip_vs)';

  const vs = await waitForStates('virtualserver/noipvs', { n1: 'MASTER', n2: 'BACKUP' }, 10_000, 'default');
  for (const node of ['n1', 'n2']) {
    assert.deepEqual({ ...vs[node], since: undefined }, {
      node, state: node === 'n1' ? 'MASTER' : 'BACKUP', programmed: false, message: why, healthy: 0, total: 2, quorum: false, since: undefined,
      realServers: [{ address: '198.18.1.1', port: 8080, weight: 2, healthy: false }, { address: '198.18.1.2', port: 8080, weight: 1, healthy: false }],
    });
  }
  const ready = await waitFor('VirtualServer Ready=False NotProgrammed', async () => {
    const x = await condition('virtualserver/noipvs', 'Ready', 'default');
    return x?.reason === 'NotProgrammed' ? x : undefined;
  }, 15_000, 200);
  assert.deepEqual({ status: ready.status, message: ready.message }, { status: 'False', message: `the master n1 could not program the service in its kernel: ${why}` });
  const degraded = await condition('virtualserver/noipvs', 'Degraded', 'default');
  assert.deepEqual({ status: degraded?.status, reason: degraded?.reason, message: degraded?.message },
    { status: 'True', reason: 'NotProgrammed', message: `the service is not programmed in the kernel of n1 and n2: ${why}` });
  // What `kubectl get vs` shows: MASTER n1, READY 0/2 (no server serves where nothing is programmed).
  const row = await c().kubectl(['get', 'virtualserver/noipvs', '-n', 'default', '--no-headers']);
  assert.match(row.stdout, /\bn1\s+0\/2\s+/);
  const warning = await waitFor('a NotProgrammed Event', async () =>
    (await events('default', 'VirtualServer', 'noipvs')).find((e) => e.reason === 'NotProgrammed'), 10_000, 200);
  assert.equal(warning.type, 'Warning');
  // The agent counts its failed runs (retried with backoff).
  const r = await c().lab.exec(n1.netns, ['curl', '-sf', 'http://127.0.0.1:9641/metrics']);
  const failures = Number(/^kubelived_ipvs_reconcile_errors_total (\d+)/m.exec(r.stdout)?.[1]);
  assert.ok(failures >= 1, `kubelived_ipvs_reconcile_errors_total ${failures}`);
});

test('SIGKILL of the master agent: n2\'s entry says MASTER within 2 s of its takeover', async (t) => {
  const [, n2] = nodes();
  const vip = vip4(11);
  await apply([vrrpInstance({ name: 'kill', vrid: 62, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' })], t);
  const [a1, a2] = startAgents(t);
  await a1?.waitForState('kill', 'Master', 15_000);
  await waitForStates('vrrpinstance/kill', { n1: 'MASTER', n2: 'BACKUP' }, 10_000);
  const from = a2?.proc.mark();
  a1?.proc.signal('SIGKILL');
  const takeover = await a2?.waitForState('kill', 'Master', 5000, from);
  assert.ok(takeover);
  await waitFor('n2 MASTER in status', async () => (await entries('vrrpinstance/kill')).n2?.state === 'MASTER', 5000, 50);
  const seen = Date.now();
  assert.ok(seen - takeover.t <= 2000, `status showed n2 MASTER ${seen - takeover.t} ms after the takeover`);
  await assertServedBy(c().lab, vip, n2);
});

test('unicastPeers [auto]: alone, n1 is master and sends nothing; n2 selected, n1 advertises to its InternalIP only, without a restart; SIGKILL moves the VIP', async (t) => {
  const [n1, n2] = nodes();
  const vip = vip4(18);
  t.after(async () => { await c().kubectl(['label', 'node', 'n1', 'n2', 'kubelived-auto-']); });
  await c().kubectl(['label', 'node', 'n1', 'kubelived-auto=on']);
  const instance = vrrpInstance({ name: 'auto', vrid: 69, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms', unicastPeers: ['auto'] });
  instance.spec = { ...(instance.spec as Record<string, unknown>), nodeSelector: { matchLabels: { 'kubelived-auto': 'on' } } };
  await apply([instance], t);
  const [a1, a2] = startAgents(t);
  /** n1's VRRP packets as n2's link sees them (the bridge floods multicast to every port). */
  const sentByN1 = async (count: number, seconds: number): Promise<string[]> => {
    const r = await c().lab.exec(n2.netns, ['timeout', String(seconds), 'tcpdump', '-i', n2.ifname, '-n', '-l', '-c', String(count), `ip proto 112 and src host ${n1.ipv4}`], { allowFail: true });
    return r.stdout.split('\n').flatMap((l) => /IP (\S+) > (\S+): VRRPv3/.exec(l)?.slice(1, 3).join(' > ') ?? []);
  };

  await a1?.waitForState('auto', 'Master', 15_000);
  await a1?.proc.waitForLine(/"msg":"VrrpInstance\/auto: unicast peers \(auto\): none, /, 1000, 0);
  await assertServedBy(c().lab, vip, n1);
  assert.deepEqual(await sentByN1(1, 2), [], 'alone: no advert, not even to 224.0.0.18');

  const from = a1?.proc.mark();
  await c().kubectl(['label', 'node', 'n2', 'kubelived-auto=on']);
  await waitForStates('vrrpinstance/auto', { n1: 'MASTER', n2: 'BACKUP' }, 15_000);
  await a1?.proc.waitForLine(new RegExp(`"instance":"auto","peers":\\["${n2.ipv4}"\\],"msg":"unicast peers changed"`), 5000, from);
  const adverts = await sentByN1(10, 10);
  assert.equal(adverts.length, 10);
  assert.deepEqual(new Set(adverts), new Set([`${n1.ipv4} > ${n2.ipv4}`]));
  const restarts = a1?.proc.output.slice(from).filter((l) => /"instance":"auto".*"to":"/.test(l.line)) ?? [];
  assert.deepEqual(restarts.map((l) => l.line), [], 'n1 took its new peer without a transition');
  await assertServedBy(c().lab, vip, n1);

  const killed = a2?.proc.mark();
  a1?.proc.signal('SIGKILL');
  await a2?.waitForState('auto', 'Master', 5000, killed);
  await assertServedBy(c().lab, vip, n2);
});

test('a priority change in the resource moves the master, and status follows', async (t) => {
  const [n1, n2] = nodes();
  const vip = vip4(12);
  await apply([vrrpInstance({ name: 'prio', vrid: 63, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' })], t);
  const [a1, a2] = startAgents(t);
  await a1?.waitForState('prio', 'Master', 15_000);
  await assertServedBy(c().lab, vip, n1);
  const from = a2?.proc.mark();
  await c().kubectl(['patch', 'vrrpinstance/prio', '--type', 'merge', '-p', JSON.stringify({ spec: { priorityOverrides: [{ node: 'n1', priority: 100 }, { node: 'n2', priority: 200 }] } })]);
  await a2?.waitForState('prio', 'Master', 5000, from);
  await assertServedBy(c().lab, vip, n2);
  const e = await waitForStates('vrrpinstance/prio', { n1: 'BACKUP', n2: 'MASTER' }, 5000);
  assert.equal(e.n2?.effectivePriority, 200);
  await waitFor('n1 at priority 100', async () => (await entries('vrrpinstance/prio')).n1?.effectivePriority === 100, 5000);
});

test('selection follows nodeSelector and Node labels; entries go with it, and SIGTERM leaves STOPPED', async (t) => {
  const [n1, n2] = nodes();
  const vip = vip4(14);
  await apply([vrrpInstance({ name: 'sel', vrid: 65, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' })], t);
  t.after(async () => { await c().kubectl(['label', 'node', 'n2', 'kubelived-test-']); });
  const [, a2] = startAgents(t);
  await waitForStates('vrrpinstance/sel', { n1: 'MASTER', n2: 'BACKUP' }, 15_000);

  const selector = (labels: Record<string, string>): Promise<unknown> =>
    c().kubectl(['patch', 'vrrpinstance/sel', '--type', 'merge', '-p', JSON.stringify({ spec: { nodeSelector: { matchLabels: labels } } })]);
  await selector({ 'kubelived-test': 'vip' });
  await waitFor('no entries left', async () => Object.keys(await entries('vrrpinstance/sel')).length === 0, 10_000, 100);
  await waitFor('VIP released', async () => (await holders(c().lab, vip)).length === 0, 10_000);

  const from = a2?.proc.mark();
  await c().kubectl(['label', 'node', 'n2', 'kubelived-test=vip']);
  await a2?.waitForState('sel', 'Master', 10_000, from);
  await assertServedBy(c().lab, vip, n2);
  await waitForStates('vrrpinstance/sel', { n2: 'MASTER' }, 5000);
  assert.deepEqual(await holders(c().lab, vip), ['n2']);
  assert.ok(!(await c().lab.addresses(n1)).includes(vip));

  a2?.proc.signal('SIGTERM');
  assert.equal(await a2?.proc.exited, 0);
  const e = await entries('vrrpinstance/sel');
  assert.equal(e.n2?.state, 'STOPPED', 'written before the agent exited');
  assert.deepEqual(await holders(c().lab, vip), [], 'the VIP went with it');

  // Deselected while its agent is down: the next run on n2 finds its old entry and removes it.
  await selector({ 'kubelived-test': 'nowhere' });
  const [again] = startAgents(t, 'agent', [n2]);
  await again?.proc.waitForLine(/"msg":"agent started"/, 15_000);
  await waitFor('n2\'s STOPPED entry removed by its next run', async () => Object.keys(await entries('vrrpinstance/sel')).length === 0, 10_000, 100);
});

test('API server down for 60 s: the VIP keeps answering, nothing is re-applied, and status catches up', async (t) => {
  const [n1, n2] = nodes();
  const vip = vip4(13);
  // A per-node file lowers that node's priority (a track), to cause a transition during the outage.
  const drain = mkdtempSync(join(tmpdir(), 'kl-drain-'));
  t.after(() => rmSync(drain, { recursive: true, force: true }));
  await apply([vrrpInstance({
    name: 'outage', vrid: 64, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms',
    tracks: [{ name: 'drain', weight: -100, exec: { command: ['sh', '-c', `test ! -e ${drain}/$NODE_NAME`], interval: '200ms' } }],
  })], t);
  const [a1, a2] = startAgents(t);
  await a1?.waitForState('outage', 'Master', 15_000);
  await waitForStates('vrrpinstance/outage', { n1: 'MASTER', n2: 'BACKUP' }, 10_000);
  await assertServedBy(c().lab, vip, n1);
  const probe = await startProbe(c().lab, vip, { intervalMs: 10 });
  t.after(async () => { await probe.stop(); });
  const marks = [a1?.proc.mark() ?? 0, a2?.proc.mark() ?? 0];

  let apiUp = true;
  try {
    apiUp = false;
    await c().stopApiServer();
    const down = Date.now();
    await sleep(30_000);
    assert.deepEqual(await holders(c().lab, vip), ['n1'], 'the master keeps its VIP');
    const quiet = probe.snapshot();
    assert.deepEqual(quiet.macChanges().filter((m) => m.t > down).map((m) => m.mac), [], 'only n1 answered');
    assert.ok(quiet.replies.filter((r) => r.t > down).every((r) => r.mac === n1.mac));
    assert.deepEqual(quiet.gaps(300).filter((g) => g.start > down), [], 'no outage for the client');

    // A transition while the API server is away: n1's track fails, n2 takes over.
    const from = a2?.proc.mark();
    writeFileSync(join(drain, 'n1'), '');
    const takeover = await a2?.waitForState('outage', 'Master', 5000, from);
    assert.ok(takeover);
    await assertServedBy(c().lab, vip, n2);
    await sleep(Math.max(0, down + 60_000 - Date.now()));
    await c().startApiServer();
    apiUp = true;

    const after = await waitForStates('vrrpinstance/outage', { n1: 'BACKUP', n2: 'MASTER' }, 30_000);
    assert.ok(Math.abs(Date.parse(after.n2?.since ?? '') - takeover.t) < 1500, `since ${after.n2?.since} vs takeover ${new Date(takeover.t).toISOString()}`);
    assert.equal(after.n1?.effectivePriority, 50);
    const result = probe.snapshot();
    assert.ok(result.replies.filter((r) => r.t > down).length > 0);
    const worst = Math.max(0, ...result.gaps(0).filter((g) => g.start > down).map((g) => g.ms));
    assert.ok(worst < 1000, `longest client gap during the outage ${worst} ms`);
    // Nothing reached the agents' config while the API server was away or when it came back.
    [a1, a2].forEach((a, i) => {
      const lines = a?.proc.output.slice(marks[i]).map((l) => l.line) ?? [];
      assert.deepEqual(lines.filter((l) => /configuration (changed|applied)|IPVS reconciled/.test(l)), [], `${a?.node.name} re-applied something`);
    });
  } finally {
    // Whatever failed above, the next tests need the API server.
    if (!apiUp) await c().startApiServer();
  }
});

test('a VIP already in an older instance: the newer one runs on no node, as the controller reports', async (t) => {
  const vip = vip4(15);
  await apply([vrrpInstance({ name: 'vip-owner', vrid: 66, vips: [`${vip}/24`], priorityOverrides: n1First, advertisementInterval: '100ms' })], t);
  // creationTimestamp counts seconds: a second later is younger, whatever the names say.
  await sleep(1100);
  await apply([vrrpInstance({ name: 'vip-copy', vrid: 67, vips: [`${vip}/24`, `${vip4(16)}/24`], advertisementInterval: '100ms' })], t);
  const agents = startAgents(t);
  await waitForStates('vrrpinstance/vip-owner', { n1: 'MASTER', n2: 'BACKUP' }, 15_000);
  for (const a of agents) {
    await a.proc.waitForLine(/VrrpInstance\/vip-copy skipped: .*virtual IP 198\.18\.\d+\.\d+ already belongs to VrrpInstance\/vip-owner/, 10_000, 0);
  }
  assert.deepEqual(await entries('vrrpinstance/vip-copy'), {}, 'no node reports it');
  assert.deepEqual(await holders(c().lab, vip), ['n1']);
  assert.deepEqual(await holders(c().lab, vip4(16)), [], 'nor any of its other addresses');
});

/** The HTTP status of the agent's endpoint `path` on its node (its --metrics-addr port). */
async function agentHttp(node: LabNode, path: string): Promise<number> {
  const r = await c().lab.exec(node.netns, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:9641${path}`], { allowFail: true });
  return Number(r.stdout);
}

test('started while the API server is down: /healthz answers at once, /readyz once the config is read', async (t) => {
  const [n1] = nodes();
  let apiUp = true;
  try {
    await c().stopApiServer();
    apiUp = false;
    const [a] = startAgents(t, 'agent', [n1]);
    // A kubelet probing liveness must find it alive, or it restarts it in a loop.
    await waitFor('/healthz 200', async () => (await agentHttp(n1, '/healthz')) === 200, 10_000, 100);
    assert.equal(await agentHttp(n1, '/readyz'), 503);
    await sleep(3000);
    assert.equal(a?.proc.running, true);
    assert.equal(await agentHttp(n1, '/healthz'), 200);
    assert.equal(await agentHttp(n1, '/readyz'), 503, 'not ready before it has a config');
    await c().startApiServer();
    apiUp = true;
    await waitFor('/readyz 200', async () => (await agentHttp(n1, '/readyz')) === 200, 60_000, 200);
  } finally {
    if (!apiUp) await c().startApiServer();
  }
});

test('without RBAC the agent fails loudly, naming what it may not do; a missing kubeconfig too', async (t) => {
  const [n1] = nodes();
  const [a] = startAgents(t, 'nobody', [n1]);
  assert.ok(a);
  const code = await Promise.race([a.proc.exited, sleep(30_000).then(() => 'running')]);
  assert.equal(code, 1);
  const out = a.proc.output.map((l) => l.line).join('\n');
  assert.match(out, /not allowed to list\/watch [a-z]+.*cannot list resource/);
  assert.match(out, /cannot start in Kubernetes mode/);

  const missing = spawnAgent(c().lab, n1, ['--kubernetes', '--node', 'n1', '--namespace', NS, '--state-dir', tmpdir()],
    { KUBECONFIG: join(tmpdir(), 'no-such-kubeconfig') });
  t.after(async () => { await missing.proc.stop(1000); });
  assert.equal(await missing.proc.exited, 1);
  const fatal = missing.proc.output.map((l) => l.line).find((l) => l.includes('cannot start in Kubernetes mode'));
  assert.match(fatal ?? '', /no-such-kubeconfig/);
});
