// Randomised properties of the planner, against the kernel simulator (strict: it fails on kernel
// errors and on edits that change nothing). Seeded; a failure names its seed and case, replay
// with IPVS_PROP_SEED.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SchedulerFlag, VirtualServer, VirtualServerSpec } from '../../../src/api/virtual-server.ts';
import { desiredState, ownerOf, realServerId, stateFromDump } from '../../../src/ipvs/desired.ts';
import type { DesiredService } from '../../../src/ipvs/desired.ts';
import { destinationKeyString, drainKeyString, serviceKeyString } from '../../../src/ipvs/keys.ts';
import { diff, sameDestinationConfig, sameServiceConfig } from '../../../src/ipvs/plan.ts';
import type { Plan } from '../../../src/ipvs/plan.ts';
import type { DumpedService, Forwarding, IpvsDestination, IpvsService, ServiceKey } from '../../../src/ipvs/types.ts';
import { Prng } from '../vrrp/prng.ts';
import { applyOps, opServiceKey } from './sim.ts';
import { rs, TCP_CHECK, virtualServer } from './fixtures.ts';

const SEED = Number(process.env.IPVS_PROP_SEED ?? 0x1b5);
const CASES = 600;
const NOW = 1_000_000;

const KEYS: ServiceKey[] = [
  { family: 4, protocol: 'TCP', address: '198.18.0.1', port: 80 },
  { family: 4, protocol: 'TCP', address: '198.18.0.1', port: 443 },
  { family: 4, protocol: 'UDP', address: '198.18.0.1', port: 80 },
  { family: 4, protocol: 'SCTP', address: '198.18.0.2', port: 80 },
  { family: 6, protocol: 'TCP', address: '2001:db8::1', port: 80 },
  { family: 6, protocol: 'UDP', address: '2001:db8::1', port: 53 },
  { family: 4, fwmark: 1 },
  { family: 6, fwmark: 1 },
  { family: 4, fwmark: 2 },
];
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'];
const V4 = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
const V6 = ['2001:db8::a', '2001:db8::b', '2001:db8::c'];

function randomService(r: Prng, key: ServiceKey): IpvsService {
  const persistent = r.bool();
  const flags = (persistent ? 1 : 0) | r.pick([0, 0, 0x8, 0x10, 0x18]);
  const max = key.family === 4 ? 32 : 128;
  return {
    key,
    scheduler: r.pick(SCHEDULERS),
    flags,
    // Non-persistent services get arbitrary timeout/netmask: the kernel ignores them.
    timeout: persistent ? r.pick([60, 300]) : r.pick([0, 0, 7]),
    netmask: persistent ? r.pick([max, max - 8]) : r.pick([max, 0]),
  };
}

function randomDest(r: Prng, key: ServiceKey, address: string, port: number): IpvsDestination {
  const family = address.includes(':') ? 6 : 4;
  const forwarding: Forwarding = family !== key.family ? 'TUN' : r.pick(['NAT', 'DR', 'TUN'] as const);
  const upperThreshold = r.pick([0, 0, 10]);
  return {
    address, family, port, forwarding, weight: r.int(0, 3), upperThreshold,
    lowerThreshold: upperThreshold === 0 ? 0 : r.pick([0, 5, 10]),
  };
}

/** Candidate destinations of a service: its family, plus the other one (TUN only) now and then. */
function destPool(r: Prng, key: ServiceKey): [string, number][] {
  const own = key.family === 4 ? V4 : V6;
  const other = key.family === 4 ? V6 : V4;
  const ports = key.fwmark !== undefined ? [0, 8080] : [key.port, 8080];
  const out: [string, number][] = [];
  for (const a of [...own, ...(r.bool(0.3) ? other.slice(0, 1) : [])]) for (const p of ports) if (r.bool(0.4)) out.push([a, p]);
  return out;
}

function configOf(d: IpvsDestination): IpvsDestination {
  const { address, family, port, forwarding, weight, upperThreshold, lowerThreshold } = d;
  return { address, family, port, forwarding, weight, upperThreshold, lowerThreshold };
}

interface Case {
  desired: DesiredService[];
  dump: DumpedService[];
  owned: Set<string>;
  drains: Map<string, number>;
}

function randomCase(r: Prng): Case {
  const dump: DumpedService[] = [];
  const desired: DesiredService[] = [];
  const owned = new Set<string>();
  const drains = new Map<string, number>();
  for (const key of KEYS) {
    const k = serviceKeyString(key);
    const inDump = r.bool(0.6);
    const isDesired = r.bool(0.6);
    const pool = destPool(r, key);
    let have: DumpedService | undefined;
    if (inDump) {
      const svc = randomService(r, key);
      have = {
        ...svc, flags: svc.flags | 2,
        destinations: pool.filter(() => r.bool(0.6)).map(([a, p]) => ({ ...randomDest(r, key, a, p), activeConns: r.pick([0, 0, 1, 7]), inactiveConns: r.int(0, 3), persistConns: r.int(0, 2) })),
      };
      dump.push(have);
      if (r.bool(0.6)) owned.add(k);
      for (const d of have.destinations) if (r.bool(0.3)) drains.set(drainKeyString(key, d), NOW - r.int(0, 40_000));
    } else if (r.bool(0.2)) {
      owned.add(k); // recorded as ours but gone from the kernel (deleted by hand)
    }
    if (!isDesired) continue;
    const service = have && r.bool(0.5) ? { key, scheduler: have.scheduler, flags: have.flags & ~2, timeout: have.timeout, netmask: have.netmask } : randomService(r, key);
    const destinations: IpvsDestination[] = [];
    const withdrawn: string[] = [];
    for (const [a, p] of pool) {
      const cur = have?.destinations.find((d) => d.address === a && d.port === p);
      const roll = r.next();
      if (roll < 0.5) {
        destinations.push(cur && r.bool(0.5) ? configOf(cur) : randomDest(r, key, a, p));
      } else if (roll < 0.7) {
        withdrawn.push(destinationKeyString({ address: a, port: p }));
      }
    }
    desired.push({ owner: `ns/${k}`, service, destinations, withdrawn, drainTimeoutMs: r.pick([0, 10_000, 30_000]) });
  }
  return { desired, dump, owned, drains };
}

function checkConverged(c: Case, plan: Plan, after: DumpedService[], where: string): void {
  const wantKeys = new Set(c.desired.map((d) => serviceKeyString(d.service.key)));
  const afterByKey = new Map(after.map((s) => [serviceKeyString(s.key), s]));
  // Foreign services: untouched and never named by an operation.
  for (const s of c.dump) {
    const k = serviceKeyString(s.key);
    if (wantKeys.has(k)) continue;
    if (c.owned.has(k)) {
      assert.ok(!afterByKey.has(k), `${where}: owned undesired ${k} still there`);
    } else {
      assert.deepEqual(afterByKey.get(k), s, `${where}: foreign ${k} changed`);
      assert.ok(!plan.ops.some((o) => opServiceKey(o) === k), `${where}: an operation names foreign ${k}`);
    }
  }
  // Minimality: a service is never deleted and re-added, nor a destination.
  const deleted = new Set(plan.ops.flatMap((o) => (o.op === 'deleteService' ? [serviceKeyString(o.key)] : [])));
  for (const o of plan.ops) {
    if (o.op !== 'deleteService') assert.ok(!deleted.has(opServiceKey(o)), `${where}: ${o.op} on deleted ${opServiceKey(o)}`);
    if (o.op === 'addDestination') {
      const k = destinationKeyString(o.destination);
      assert.ok(!plan.ops.some((x) => x.op === 'deleteDestination' && opServiceKey(x) === opServiceKey(o) && destinationKeyString(x.destination) === k), `${where}: ${k} deleted and added`);
    }
  }
  // Desired services: exactly their configuration, their destinations, plus draining ones.
  for (const d of c.desired) {
    const k = serviceKeyString(d.service.key);
    const s = afterByKey.get(k);
    assert.ok(s, `${where}: ${k} missing`);
    assert.ok(sameServiceConfig(s, d.service), `${where}: ${k} config`);
    for (const w of d.destinations) {
      const h = s.destinations.find((x) => destinationKeyString(x) === destinationKeyString(w));
      assert.ok(h && sameDestinationConfig(h, w), `${where}: ${k} ${destinationKeyString(w)}`);
    }
    for (const h of s.destinations) {
      const dk = destinationKeyString(h);
      if (d.destinations.some((w) => destinationKeyString(w) === dk)) continue;
      assert.ok(!d.withdrawn.includes(dk), `${where}: withdrawn ${dk} left in ${k}`);
      const since = plan.drains.get(drainKeyString(d.service.key, h));
      assert.ok(since !== undefined, `${where}: ${dk} in ${k} neither desired nor draining`);
      assert.equal(h.weight, 0, `${where}: draining ${dk} has weight`);
      assert.ok(h.activeConns > 0 && NOW < since + d.drainTimeoutMs, `${where}: ${dk} should have been deleted`);
    }
  }
  assert.deepEqual([...plan.owned].sort(), [...wantKeys].sort());
}

describe(`planner properties (seed ${SEED}, ${CASES} cases; replay with IPVS_PROP_SEED)`, () => {
  test('one plan converges, the next is empty, and drains finish by their deadline', () => {
    const r = new Prng(SEED);
    let ops = 0;
    let drained = 0;
    for (let i = 0; i < CASES; i++) {
      const where = `seed ${SEED} case ${i}`;
      const c = randomCase(r);
      const p1 = diff(c.desired, c.dump, c.owned, { drains: c.drains, now: NOW });
      const after = applyOps(c.dump, p1.ops);
      checkConverged(c, p1, after, where);
      ops += p1.ops.length;
      drained += p1.drains.size;

      const p2 = diff(c.desired, after, p1.owned, { drains: p1.drains, now: NOW });
      assert.deepEqual(p2.ops, [], `${where}: second plan not empty`);
      assert.deepEqual(p2.drains, p1.drains, `${where}: drains changed`);

      // Past every deadline the draining destinations go, and then nothing is left to do.
      const late = NOW + 100_000;
      if (p1.nextDeadline !== undefined) assert.ok(p1.nextDeadline > NOW && p1.nextDeadline <= NOW + 30_000, `${where}: next deadline`);
      const p3 = diff(c.desired, after, p1.owned, { drains: p2.drains, now: late });
      assert.equal(p3.ops.length, p1.drains.size, `${where}: deletes after the deadline`);
      assert.ok(p3.ops.every((o) => o.op === 'deleteDestination'));
      assert.equal(p3.drains.size, 0);
      const final = applyOps(after, p3.ops);
      assert.deepEqual(diff(c.desired, final, p1.owned, { now: late + 1 }).ops, [], `${where}: not settled`);
      for (const d of c.desired) {
        const s = final.find((x) => serviceKeyString(x.key) === serviceKeyString(d.service.key));
        assert.deepEqual(s?.destinations.map(destinationKeyString).sort(), d.destinations.map(destinationKeyString).sort(), `${where}: final destinations`);
      }
    }
    // The generator must exercise the interesting paths.
    assert.ok(ops > CASES * 3, `only ${ops} operations in ${CASES} cases`);
    assert.ok(drained > CASES / 10, `only ${drained} drains in ${CASES} cases`);
  });

  test('applying the same desired state twice from any kernel state: the second plan is empty', () => {
    const r = new Prng(SEED + 1);
    for (let i = 0; i < CASES; i++) {
      const c = randomCase(r);
      // No drains at all (timeout 0): convergence is exact in one step.
      const desired = c.desired.map((d) => ({ ...d, drainTimeoutMs: 0 }));
      const p1 = diff(desired, c.dump, c.owned, { now: NOW });
      const after = applyOps(c.dump, p1.ops);
      assert.equal(p1.drains.size, 0);
      assert.deepEqual(diff(desired, after, p1.owned, { now: NOW }).ops, [], `seed ${SEED + 1} case ${i}`);
    }
  });
});

function randomVirtualServer(r: Prng, i: number): VirtualServer {
  const n = r.int(1, 4);
  const realServers = V4.slice(0, n).map((a) => rs(a, r.pick([0, 1, 1, 2, 5])));
  const scheduler = r.pick(['rr', 'sh', 'mh', 'wlc'] as const);
  const flags: SchedulerFlag[] = scheduler === 'sh' ? r.pick([[], ['sh-port'], ['sh-fallback', 'sh-port']] as SchedulerFlag[][]) : scheduler === 'mh' ? r.pick([[], ['mh-fallback']] as SchedulerFlag[][]) : [];
  const spec: Partial<VirtualServerSpec> = {
    key: { family: 4, protocol: 'TCP', address: '198.18.0.1', port: 80 + i },
    scheduler,
    schedulerFlags: flags,
    persistence: r.bool() ? { timeoutS: 300, netmask: 24 } : undefined,
    forwarding: r.pick(['NAT', 'DR', 'TUN'] as const),
    realServers,
    healthCheck: r.bool(0.7) ? TCP_CHECK : undefined,
    inhibitOnFailure: r.bool(),
    sorryServer: r.bool(0.6) ? { address: '10.0.9.9', family: 4, port: 80 + i } : undefined,
    quorum: { min: r.int(0, 6), hysteresis: r.int(0, 3) },
  };
  return virtualServer(spec, `vs${i}`);
}

test(`agent restart: state recovered from the kernel plans zero operations (seed ${SEED + 2})`, () => {
  const r = new Prng(SEED + 2);
  let sorry = 0;
  for (let i = 0; i < CASES; i++) {
    const vss = Array.from({ length: r.int(1, 3) }, (_, j) => randomVirtualServer(r, j));
    const health = new Map<string, boolean | undefined>();
    for (const vs of vss) for (const s of vs.spec.realServers) health.set(realServerId(ownerOf(vs), s), [true, true, false, undefined][r.int(0, 3)]);
    const prev = new Map(vss.flatMap((vs) => (r.bool(0.5) ? [[ownerOf(vs), r.bool()] as const] : [])));
    const before = desiredState({ virtualServers: vss, health: (o, s) => health.get(realServerId(o, s)), quorum: prev });
    sorry += before.status.filter((s) => s.sorryActive).length;
    const kernel = applyOps([], diff(before.services, [], new Set()).ops);

    const recovered = stateFromDump(vss, kernel);
    const after = desiredState({ virtualServers: vss, health: (o, s) => recovered.health.get(realServerId(o, s)), quorum: recovered.quorum });
    const p = diff(after.services, kernel, new Set(before.services.map((s) => serviceKeyString(s.service.key))));
    assert.deepEqual(p.ops, [], `seed ${SEED + 2} case ${i}`);
    assert.deepEqual(after.status.map((s) => s.sorryActive), before.status.map((s) => s.sorryActive), `seed ${SEED + 2} case ${i}: sorry`);
  }
  assert.ok(sorry > CASES / 10, `only ${sorry} sorry-server cases`);
});
