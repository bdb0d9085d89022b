// The reconciler's computed kernel state must equal what the kernel (here its strict test
// model) holds after the same plan, for random plans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyToDump } from '../../../src/ipvs/model.ts';
import { diff } from '../../../src/ipvs/plan.ts';
import { serviceKeyString, destinationKeyString } from '../../../src/ipvs/keys.ts';
import type { DesiredService } from '../../../src/ipvs/desired.ts';
import type { DumpedService } from '../../../src/ipvs/types.ts';
import { applyOps } from './sim.ts';

function canon(d: readonly DumpedService[]): unknown {
  return [...d].map((s) => ({ ...s, flags: s.flags & ~0x2, destinations: [...s.destinations].sort((a, b) => destinationKeyString(a).localeCompare(destinationKeyString(b))) }))
    .sort((a, b) => serviceKeyString(a.key).localeCompare(serviceKeyString(b.key)));
}

function service(port: number, scheduler: string, dests: [number, number][]): DesiredService {
  return {
    owner: `default/vs${port}`,
    service: { key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port }, scheduler, flags: 0, timeout: 0, netmask: 32 },
    destinations: dests.map(([host, weight]) => ({ address: `198.18.1.${host}`, family: 4 as const, port: 8080, forwarding: 'NAT' as const, weight, upperThreshold: 0, lowerThreshold: 0 })),
    withdrawn: [],
    drainTimeoutMs: 0,
  };
}

test('computed state after a plan equals the applied state, over random plans', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let kernel: DumpedService[] = [];
  let owned = new Set<string>();
  for (let round = 0; round < 200; round++) {
    const desired = Array.from({ length: rnd(6) }, (_, i) => service(80 + i, ['rr', 'wrr', 'sh'][rnd(3)] ?? 'rr',
      Array.from({ length: rnd(4) }, (_, j) => [10 + j, rnd(3) + 1] as [number, number])));
    const plan = diff(desired, kernel, owned, { now: round });
    const applied = applyOps(kernel, plan.ops);
    assert.deepEqual(canon(applyToDump(kernel, plan.ops)), canon(applied), `round ${round}`);
    kernel = applied;
    owned = plan.owned;
  }
});
