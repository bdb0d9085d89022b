import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredService } from '../../../src/ipvs/desired.ts';
import { serviceKeyString } from '../../../src/ipvs/keys.ts';
import { diff, sameServiceConfig } from '../../../src/ipvs/plan.ts';
import type { DumpedService, IpvsService, ServiceKey } from '../../../src/ipvs/types.ts';
import { applyOps } from './sim.ts';
import { dest, dumped, dumpedService, SVC } from './fixtures.ts';

const K = serviceKeyString(SVC.key);
const FOREIGN: DumpedService = dumpedService(
  { key: { family: 4, protocol: 'TCP', address: '10.96.0.1', port: 443 }, scheduler: 'rr', flags: 2, timeout: 0, netmask: 0xffffffff },
  [dumped(dest('172.18.0.2', 1, { port: 6443 }), 12)],
);

function desired(service: IpvsService = SVC, destinations = [dest('10.0.0.1'), dest('10.0.0.2')], more: Partial<DesiredService> = {}): DesiredService {
  return { owner: 'default/web', service, destinations, withdrawn: [], drainTimeoutMs: 30_000, ...more };
}

/** The kernel after applying `desired` to nothing, with connection counters set per destination. */
function kernelOf(d: DesiredService[], conns: Record<string, number> = {}): DumpedService[] {
  const dump = applyOps([], diff(d, [], new Set()).ops);
  for (const s of dump) for (const x of s.destinations) x.activeConns = conns[x.address] ?? 0;
  return dump;
}

test('nothing desired, nothing in the kernel: no operations', () => {
  const p = diff([], [], new Set());
  assert.deepEqual(p.ops, []);
  assert.deepEqual([...p.owned], []);
});

test('from empty: the service first, then its destinations; owned becomes the desired keys', () => {
  const p = diff([desired()], [], new Set());
  assert.deepEqual(p.ops, [
    { op: 'addService', service: SVC },
    { op: 'addDestination', service: SVC.key, destination: dest('10.0.0.1') },
    { op: 'addDestination', service: SVC.key, destination: dest('10.0.0.2') },
  ]);
  assert.deepEqual([...p.owned], [K]);
  assert.deepEqual(p.adopted, []);
});

test('the same state again: zero operations (the kernel adds HASHED and counters; ignored)', () => {
  const dump = kernelOf([desired()], { '10.0.0.1': 3 });
  assert.equal(dump[0]?.flags, 2, 'the simulator sets HASHED as the kernel does');
  assert.deepEqual(diff([desired()], dump, new Set([K])).ops, []);
});

test('foreign services are never touched, whatever happens to ours', () => {
  const dump = [FOREIGN, ...kernelOf([desired()])];
  assert.deepEqual(diff([desired()], dump, new Set([K])).ops, []);
  const removeOurs = diff([], dump, new Set([K]));
  assert.deepEqual(removeOurs.ops, [{ op: 'deleteService', key: SVC.key }]);
  assert.deepEqual([...removeOurs.owned], []);
  const after = applyOps(dump, removeOurs.ops);
  assert.deepEqual(after, [FOREIGN]);
});

test('a removed owned service is deleted alone: the kernel drops its destinations with it', () => {
  const dump = kernelOf([desired()], { '10.0.0.1': 50 });
  assert.deepEqual(diff([], dump, new Set([K])).ops, [{ op: 'deleteService', key: SVC.key }]);
  assert.deepEqual(diff([], dump, new Set()).ops, [], 'not owned (lost ownership record): left alone');
});

test('a desired service found without ownership is adopted and edited in place', () => {
  const dump = [dumpedService({ ...SVC, scheduler: 'rr' }, [dumped(dest('10.0.0.1'))])];
  const p = diff([desired()], dump, new Set());
  assert.deepEqual(p.adopted, [K]);
  assert.deepEqual(p.ops, [
    { op: 'editService', service: SVC },
    { op: 'addDestination', service: SVC.key, destination: dest('10.0.0.2') },
  ]);
});

test('service edits in place: scheduler, flags, persistence timeout and netmask', () => {
  const cases: [string, Partial<IpvsService>][] = [
    ['scheduler', { scheduler: 'rr' }],
    ['scheduler flags', { scheduler: 'sh', flags: 0x18 }],
    ['persistence on', { flags: 1, timeout: 300, netmask: 32 }],
  ];
  for (const [title, change] of cases) {
    const want = { ...SVC, ...change };
    const p = diff([desired(want)], kernelOf([desired()]), new Set([K]));
    assert.deepEqual(p.ops, [{ op: 'editService', service: want }], title);
  }
  const persistent: IpvsService = { ...SVC, flags: 1, timeout: 300, netmask: 32 };
  for (const change of [{ timeout: 60 }, { netmask: 24 }, { flags: 0 }, { flags: 0x9 }]) {
    const want = { ...persistent, ...change };
    assert.deepEqual(diff([desired(want)], kernelOf([desired(persistent)]), new Set([K])).ops, [{ op: 'editService', service: want }], JSON.stringify(change));
  }
});

test('timeout and netmask of a non-persistent service are not compared (the kernel ignores them)', () => {
  const dump = [dumpedService({ ...SVC, flags: 2, timeout: 0, netmask: 0xffffffff }, [dumped(dest('10.0.0.1')), dumped(dest('10.0.0.2'))])];
  assert.deepEqual(diff([desired()], dump, new Set([K])).ops, []);
  assert.ok(sameServiceConfig({ ...SVC, timeout: 5 }, SVC));
  assert.ok(!sameServiceConfig({ ...SVC, flags: 1, timeout: 5 }, { ...SVC, flags: 1 }));
});

test('a changed key is a delete of the old service and an add of the new one', () => {
  const moved: IpvsService = { ...SVC, key: { ...SVC.key, port: 8080 } as ServiceKey };
  const p = diff([desired(moved)], kernelOf([desired()]), new Set([K]));
  assert.deepEqual(p.ops, [
    { op: 'deleteService', key: SVC.key },
    { op: 'addService', service: moved },
    { op: 'addDestination', service: moved.key, destination: dest('10.0.0.1') },
    { op: 'addDestination', service: moved.key, destination: dest('10.0.0.2') },
  ]);
  assert.deepEqual([...p.owned], ['TCP 198.18.0.100:8080']);
});

test('destination edits in place: weight, thresholds, forwarding', () => {
  const cases = [
    dest('10.0.0.1', 5),
    dest('10.0.0.1', 0),
    dest('10.0.0.1', 1, { upperThreshold: 100 }),
    dest('10.0.0.1', 1, { upperThreshold: 100, lowerThreshold: 100 }),
    dest('10.0.0.1', 1, { forwarding: 'DR' }),
    dest('10.0.0.1', 1, { forwarding: 'TUN' }),
  ];
  for (const changed of cases) {
    const p = diff([desired(SVC, [changed, dest('10.0.0.2')])], kernelOf([desired()]), new Set([K]));
    assert.deepEqual(p.ops, [{ op: 'editDestination', service: SVC.key, destination: changed }], JSON.stringify(changed));
  }
});

test('destinations: deletes, then edits, then adds, each in address order', () => {
  const dump = kernelOf([desired(SVC, [dest('10.0.0.1'), dest('10.0.0.2'), dest('10.0.0.3')])]);
  const want = desired(SVC, [dest('10.0.0.4'), dest('10.0.0.2', 7), dest('10.0.0.0')], { withdrawn: ['10.0.0.1:80', '10.0.0.3:80'] });
  assert.deepEqual(diff([want], dump, new Set([K])).ops, [
    { op: 'deleteDestination', service: SVC.key, destination: { address: '10.0.0.1', family: 4, port: 80 } },
    { op: 'deleteDestination', service: SVC.key, destination: { address: '10.0.0.3', family: 4, port: 80 } },
    { op: 'editDestination', service: SVC.key, destination: dest('10.0.0.2', 7) },
    { op: 'addDestination', service: SVC.key, destination: dest('10.0.0.0') },
    { op: 'addDestination', service: SVC.key, destination: dest('10.0.0.4') },
  ]);
});

test('a destination port is part of its name: another port is another destination', () => {
  const dump = kernelOf([desired()]);
  const p = diff([desired(SVC, [dest('10.0.0.1', 1, { port: 8080 }), dest('10.0.0.2')], { withdrawn: ['10.0.0.1:80'] })], dump, new Set([K]));
  assert.deepEqual(p.ops.map((o) => o.op), ['deleteDestination', 'addDestination']);
});

test('withdrawn destinations (unhealthy, replaced by the sorry server) go at once, connections or not', () => {
  const dump = kernelOf([desired()], { '10.0.0.1': 40 });
  const p = diff([desired(SVC, [dest('10.0.0.2')], { withdrawn: ['10.0.0.1:80'] })], dump, new Set([K]), { now: 5 });
  assert.deepEqual(p.ops, [{ op: 'deleteDestination', service: SVC.key, destination: { address: '10.0.0.1', family: 4, port: 80 } }]);
  assert.equal(p.drains.size, 0);
});

test('drain lifecycle: weight 0 first, then deleted when its active connections end', () => {
  const want = desired(SVC, [dest('10.0.0.2')]);
  const key = 'TCP 198.18.0.100:80 -> 10.0.0.1:80';
  let dump = kernelOf([desired()], { '10.0.0.1': 5 });

  const p1 = diff([want], dump, new Set([K]), { now: 1000 });
  assert.deepEqual(p1.ops, [{ op: 'editDestination', service: SVC.key, destination: dest('10.0.0.1', 0) }]);
  assert.deepEqual([...p1.drains], [[key, 1000]]);
  assert.equal(p1.nextDeadline, 31_000);
  dump = applyOps(dump, p1.ops);

  // Connections still open, timeout not reached: nothing to do, the drain start is kept.
  const p2 = diff([want], dump, new Set([K]), { drains: p1.drains, now: 20_000 });
  assert.deepEqual(p2.ops, []);
  assert.deepEqual([...p2.drains], [[key, 1000]]);

  // The connections ended.
  dump[0]!.destinations.find((d) => d.address === '10.0.0.1')!.activeConns = 0;
  const p3 = diff([want], dump, new Set([K]), { drains: p2.drains, now: 21_000 });
  assert.deepEqual(p3.ops, [{ op: 'deleteDestination', service: SVC.key, destination: { address: '10.0.0.1', family: 4, port: 80 } }]);
  assert.equal(p3.drains.size, 0);
  assert.equal(p3.nextDeadline, undefined);
  assert.deepEqual(diff([want], applyOps(dump, p3.ops), new Set([K]), { drains: p3.drains, now: 22_000 }).ops, []);
});

test('drain lifecycle: deleted when the drain timeout passes, connections or not', () => {
  const want = desired(SVC, [dest('10.0.0.2')], { drainTimeoutMs: 10_000 });
  let dump = kernelOf([desired()], { '10.0.0.1': 5 });
  const p1 = diff([want], dump, new Set([K]), { now: 0 });
  dump = applyOps(dump, p1.ops);
  assert.deepEqual(diff([want], dump, new Set([K]), { drains: p1.drains, now: 9_999 }).ops, []);
  const p2 = diff([want], dump, new Set([K]), { drains: p1.drains, now: 10_000 });
  assert.deepEqual(p2.ops.map((o) => o.op), ['deleteDestination']);
});

test('drain: nothing to drain (no active connections) or drainTimeout 0 deletes at once', () => {
  const dump = kernelOf([desired()], { '10.0.0.1': 0 });
  assert.deepEqual(diff([desired(SVC, [dest('10.0.0.2')])], dump, new Set([K])).ops.map((o) => o.op), ['deleteDestination']);
  const busy = kernelOf([desired()], { '10.0.0.1': 9 });
  assert.deepEqual(diff([desired(SVC, [dest('10.0.0.2')], { drainTimeoutMs: 0 })], busy, new Set([K])).ops.map((o) => o.op), ['deleteDestination']);
});

test('drain: a destination already at weight 0 needs no edit; one whose weight was raised meanwhile is set to 0 again', () => {
  const want = desired(SVC, [dest('10.0.0.2')]);
  const zero = kernelOf([desired(SVC, [dest('10.0.0.1', 0), dest('10.0.0.2')])], { '10.0.0.1': 2 });
  const p = diff([want], zero, new Set([K]), { now: 7 });
  assert.deepEqual(p.ops, []);
  assert.deepEqual([...p.drains.values()], [7]);
  const raised = kernelOf([desired(SVC, [dest('10.0.0.1', 4), dest('10.0.0.2')])], { '10.0.0.1': 2 });
  const p2 = diff([want], raised, new Set([K]), { drains: p.drains, now: 8 });
  assert.deepEqual(p2.ops, [{ op: 'editDestination', service: SVC.key, destination: dest('10.0.0.1', 0) }]);
  assert.deepEqual([...p2.drains.values()], [7], 'the drain keeps its start');
});

test('drain: a destination that comes back is restored and forgotten', () => {
  const dump = kernelOf([desired(SVC, [dest('10.0.0.1', 0), dest('10.0.0.2')])], { '10.0.0.1': 2 });
  const drains = new Map([['TCP 198.18.0.100:80 -> 10.0.0.1:80', 0]]);
  const p = diff([desired()], dump, new Set([K]), { drains, now: 10 });
  assert.deepEqual(p.ops, [{ op: 'editDestination', service: SVC.key, destination: dest('10.0.0.1') }]);
  assert.equal(p.drains.size, 0);
});

test('drain: bookkeeping for destinations or services that are gone is dropped', () => {
  const drains = new Map([['TCP 198.18.0.100:80 -> 10.0.0.9:80', 0], ['UDP 1.2.3.4:53 -> 10.0.0.1:53', 0]]);
  const p = diff([desired()], kernelOf([desired()]), new Set([K]), { drains, now: 10 });
  assert.deepEqual(p.ops, []);
  assert.equal(p.drains.size, 0);
});

test('drain: the earliest deadline over several services', () => {
  const a = desired(SVC, [dest('10.0.0.2')], { drainTimeoutMs: 50_000 });
  const other: IpvsService = { ...SVC, key: { family: 4, fwmark: 3 } };
  const b = desired(other, [], { drainTimeoutMs: 5_000 });
  const dump = kernelOf([desired(), desired(other, [dest('10.0.0.7', 1, { port: 0 })])], { '10.0.0.1': 1, '10.0.0.7': 1 });
  const p = diff([a, b], dump, new Set([K, 'FWM 3 IPv4']), { now: 100 });
  assert.equal(p.drains.size, 2);
  assert.equal(p.nextDeadline, 5_100);
});

test('a service is added before its destinations and ours are deleted first, across several services', () => {
  const v6: IpvsService = { key: { family: 6, protocol: 'UDP', address: '2001:db8::100', port: 53 }, scheduler: 'rr', flags: 0, timeout: 0, netmask: 128 };
  const dump = [FOREIGN, ...kernelOf([desired()])];
  const p = diff([desired(v6, [dest('2001:db8::1', 1, { port: 53 })])], dump, new Set([K]));
  assert.deepEqual(p.ops.map((o) => o.op), ['deleteService', 'addService', 'addDestination']);
  const after = applyOps(dump, p.ops);
  assert.deepEqual(diff([desired(v6, [dest('2001:db8::1', 1, { port: 53 })])], after, p.owned).ops, []);
});

test('duplicates upstream are bugs and throw', () => {
  assert.throws(() => diff([desired(), desired()], [], new Set()), /desired service TCP 198\.18\.0\.100:80 appears twice/);
  assert.throws(() => diff([desired(SVC, [dest('10.0.0.1'), dest('10.0.0.1', 2)])], [], new Set()), /destination of TCP 198\.18\.0\.100:80: 10\.0\.0\.1:80 appears twice/);
});
