// The reconciler over the pure kernel model of test/unit/ipvs/sim.ts (the real kernel runs in
// the ipvs-vm tier): ownership on disk, foreign services untouched, restart adoption with zero
// operations, failures retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseResources } from '../../../src/api/documents.ts';
import { IpvsReconciler } from '../../../src/agent/ipvs-reconciler.ts';
import type { IpvsPort } from '../../../src/agent/ipvs-reconciler.ts';
import { OwnershipFile } from '../../../src/agent/ownership.ts';
import type { DumpedService, IpvsOperation } from '../../../src/ipvs/types.ts';
import { applyOps, cloneDump } from '../ipvs/sim.ts';

const CONFIG = `
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi }
spec: { vrid: 51, virtualIPs: ["198.18.0.100/24"] }
---
apiVersion: kubelived.io/v1alpha1
kind: VirtualServer
metadata: { name: web }
spec:
  vrrpInstanceRef: vi
  virtualIP: 198.18.0.100
  port: 80
  scheduler: wrr
  realServers:
    - { address: 198.18.1.1, port: 8080, weight: 2 }
    - { address: 198.18.1.2, port: 8080 }
`;

class SimKernel implements IpvsPort {
  dumpState: DumpedService[];
  applied: IpvsOperation[][] = [];
  dumps = 0;
  failNext = false;
  constructor(initial: DumpedService[] = []) {
    this.dumpState = initial;
  }
  dump(): Promise<DumpedService[]> {
    this.dumps++;
    return Promise.resolve(cloneDump(this.dumpState));
  }
  apply(ops: readonly IpvsOperation[]): Promise<({ ok: true } | { ok: false; error: Error })[]> {
    this.applied.push([...ops]);
    if (this.failNext) {
      this.failNext = false;
      return Promise.resolve(ops.map(() => ({ ok: false as const, error: new Error('EPERM') })));
    }
    this.dumpState = applyOps(this.dumpState, ops);
    return Promise.resolve(ops.map(() => ({ ok: true as const })));
  }
}

const foreign: DumpedService = {
  key: { family: 4, protocol: 'TCP', address: '10.96.0.1', port: 443 }, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32,
  destinations: [{ address: '10.0.0.5', family: 4, port: 6443, forwarding: 'NAT', weight: 1, upperThreshold: 0, lowerThreshold: 0, activeConns: 0, inactiveConns: 0, persistConns: 0 }],
};

function reconciler(kernel: SimKernel, stateDir: string): IpvsReconciler {
  return new IpvsReconciler({
    open: () => kernel,
    ownership: new OwnershipFile(stateDir),
    log: pino({ level: 'silent' }),
    observer: { realServer: () => undefined, reconciled: () => undefined, programmed: () => undefined },
  });
}

test('programs the VirtualServer, records ownership, leaves a foreign service alone, and a restart changes nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const set = parseResources(CONFIG, 'f.yaml');
  const kernel = new SimKernel([foreign]);
  const r1 = reconciler(kernel, dir);
  r1.setVirtualServers(set.virtualServers);
  await r1.settled();
  r1.stop();
  const ours = kernel.dumpState.find((s) => s.key.address === '198.18.0.100');
  assert.ok(ours);
  assert.equal(ours.scheduler, 'wrr');
  assert.deepEqual(ours.destinations.map((d) => [d.address, d.weight]), [['198.18.1.1', 2], ['198.18.1.2', 1]]);
  assert.deepEqual(kernel.dumpState.find((s) => s.key.address === '10.96.0.1'), foreign);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'ipvs-owned.json'), 'utf8')), { owned: ['TCP 198.18.0.100:80'] });

  const applies = kernel.applied.length;
  const r2 = reconciler(kernel, dir);
  r2.setVirtualServers(set.virtualServers);
  await r2.settled();
  assert.equal(kernel.applied.length, applies, 'a restart over the same kernel sends no operation');

  // The VirtualServer goes away: ours is deleted, the foreign one stays.
  r2.setVirtualServers([]);
  await r2.settled();
  r2.stop();
  assert.deepEqual(kernel.dumpState, [foreign]);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'ipvs-owned.json'), 'utf8')), { owned: [] });
});

test('a failed apply keeps ownership of everything it may have created and is retried', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kernel = new SimKernel();
  kernel.failNext = true;
  const r = reconciler(kernel, dir);
  t.after(() => r.stop());
  r.setVirtualServers(parseResources(CONFIG, 'f.yaml').virtualServers);
  await r.settled();
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'ipvs-owned.json'), 'utf8')), { owned: ['TCP 198.18.0.100:80'] });
  assert.equal(kernel.dumpState.length, 0);
  const deadline = Date.now() + 3000;
  while (kernel.dumpState.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.equal(kernel.dumpState.length, 1, 'retried after the failure');
});

test('with no VirtualServers and nothing owned, IPVS is never opened', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let opened = false;
  const r = new IpvsReconciler({
    open: () => { opened = true; throw new Error('no IPVS here'); },
    ownership: new OwnershipFile(dir),
    log: pino({ level: 'silent' }),
    observer: { realServer: () => undefined, reconciled: () => undefined, programmed: () => undefined },
  });
  r.setVirtualServers([]);
  await r.settled();
  r.stop();
  assert.equal(opened, false);
});

test('a change to one VirtualServer is one operation, planned without dumping the kernel again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const second = CONFIG.split('---').at(-1)?.replace('name: web', 'name: api').replace('port: 80', 'port: 443') ?? '';
  const kernel = new SimKernel([foreign]);
  const r = reconciler(kernel, dir);
  t.after(() => r.stop());
  r.setVirtualServers(parseResources(`${CONFIG}---${second}`, 'f.yaml').virtualServers);
  await r.settled();
  assert.equal(kernel.dumps, 1);
  assert.equal(kernel.dumpState.length, 3);
  r.setVirtualServers(parseResources(`${CONFIG.replace('weight: 2', 'weight: 5')}---${second}`, 'f.yaml').virtualServers);
  await r.settled();
  assert.equal(kernel.dumps, 1, 'no second dump');
  assert.deepEqual(kernel.applied.at(-1), [{
    op: 'editDestination', service: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 },
    destination: { address: '198.18.1.1', family: 4, port: 8080, forwarding: 'NAT', weight: 5, upperThreshold: 0, lowerThreshold: 0 },
  }]);
  // Removing one VirtualServer deletes its service only.
  r.setVirtualServers(parseResources(CONFIG.replace('weight: 2', 'weight: 5'), 'f.yaml').virtualServers);
  await r.settled();
  assert.deepEqual(kernel.applied.at(-1), [{ op: 'deleteService', key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 443 } }]);
  assert.deepEqual(kernel.dumpState.map((d) => `${d.key.address}:${d.key.port}`).sort(), ['10.96.0.1:443', '198.18.0.100:80']);
  assert.equal(kernel.dumps, 1);
});

test('a real server failing its check leaves the kernel at once, without waiting for the next dump', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const listen = async (): Promise<Server> => {
    const s = createServer((c) => c.end());
    await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
    return s;
  };
  const [a, b] = [await listen(), await listen()];
  t.after(() => { a.close(); b.close(); });
  const portOf = (s: Server): number => (s.address() as AddressInfo).port;
  const config = CONFIG.split('---')[0] + `---
apiVersion: kubelived.io/v1alpha1
kind: VirtualServer
metadata: { name: web }
spec:
  vrrpInstanceRef: vi
  virtualIP: 198.18.0.100
  port: 80
  healthCheck: { type: TCP, interval: 100ms, timeout: 50ms, fall: 1 }
  realServers: [{ address: 127.0.0.1, port: ${portOf(a)} }, { address: 127.0.0.1, port: ${portOf(b)} }]
`;
  const kernel = new SimKernel();
  const r = reconciler(kernel, dir);
  t.after(() => r.stop());
  r.setVirtualServers(parseResources(config, 'f.yaml').virtualServers);
  await r.settled();
  const destinations = (): number | undefined => kernel.dumpState[0]?.destinations.length;
  assert.equal(destinations(), 2);
  b.close();
  const deadline = Date.now() + 3000;
  while (destinations() !== 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(kernel.dumpState[0]?.destinations.map((d) => d.port), [portOf(a)]);
  assert.equal(kernel.dumps, 1, 'planned incrementally');
});

test('every run says, per VirtualServer, whether the kernel holds its service, and why not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kl-ipvs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kernel = new SimKernel();
  let available = false;
  const reports: { state: Record<string, string | undefined>; ok: boolean }[] = [];
  const r = new IpvsReconciler({
    open: () => kernel,
    ownership: new OwnershipFile(dir),
    log: pino({ level: 'silent' }),
    observer: {
      realServer: () => undefined,
      reconciled: () => undefined,
      programmed: (state, ok) => reports.push({ state: Object.fromEntries(state), ok }),
    },
  });
  t.after(() => r.stop());
  const dump = kernel.dump.bind(kernel);
  // A kernel without ip_vs: every call fails as the native addon says.
  kernel.dump = () => (available ? dump() : Promise.reject(new Error('IPVS is not available in this kernel (modprobe ip_vs)')));
  r.setVirtualServers(parseResources(CONFIG, 'f.yaml').virtualServers);
  await r.settled();
  assert.deepEqual(reports, [{ state: { 'default/web': 'IPVS is not available in this kernel (modprobe ip_vs)' }, ok: false }]);

  // ip_vs loaded, but the kernel refuses the operations of the next run.
  available = true;
  kernel.failNext = true;
  const waitFor = async (n: number): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (reports.length < n && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  };
  await waitFor(2);
  assert.deepEqual(reports[1], { state: { 'default/web': 'EPERM' }, ok: false });
  await waitFor(3);
  assert.deepEqual(reports[2], { state: { 'default/web': undefined }, ok: true });
  assert.equal(kernel.dumpState.length, 1);
});
