import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SCHEDULERS } from '../../../src/api/virtual-server.ts';
import type { SchedulerFlag, VirtualServerSpec } from '../../../src/api/virtual-server.ts';
import { desiredState, realServerId, serviceOf } from '../../../src/ipvs/desired.ts';
import type { DesiredState, HealthLookup } from '../../../src/ipvs/desired.ts';
import {
  IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2, SCHEDULER_FLAG_BITS,
} from '../../../src/ipvs/flags.ts';
import { dest, rs, TCP_CHECK, virtualServer } from './fixtures.ts';

function one(spec: Partial<VirtualServerSpec>, health?: HealthLookup, quorum?: ReadonlyMap<string, boolean>): DesiredState {
  return desiredState({ virtualServers: [virtualServer(spec)], health, quorum });
}

/** Health from a set of down real server ids. */
function downSet(...down: string[]): HealthLookup {
  return (owner, server) => !down.includes(realServerId(owner, server));
}

test('a plain VirtualServer: the service and one destination per real server', () => {
  const d = one({});
  assert.deepEqual(d.services, [{
    owner: 'default/web',
    service: { key: { family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 }, scheduler: 'wlc', flags: 0, timeout: 0, netmask: 32 },
    destinations: [dest('10.0.0.1'), dest('10.0.0.2')],
    withdrawn: [],
    drainTimeoutMs: 30_000,
  }]);
  assert.deepEqual(d.status, [{ owner: 'default/web', key: 'TCP 198.18.0.100:80', total: 2, healthy: 2, healthyWeight: 2, quorumUp: true, sorryActive: false }]);
  assert.deepEqual([...d.quorum], [['default/web', true]]);
  assert.deepEqual(d.conflicts, []);
});

test('every scheduler maps to its kernel name', () => {
  for (const scheduler of SCHEDULERS) {
    assert.equal(one({ scheduler }).services[0]?.service.scheduler, scheduler);
  }
});

test('scheduler flags map to IP_VS_SVC_F_SCHED1..2', () => {
  assert.equal(IP_VS_SVC_F_SCHED1, 0x08);
  assert.equal(IP_VS_SVC_F_SCHED2, 0x10);
  const cases: [VirtualServerSpec['scheduler'], SchedulerFlag[], number][] = [
    ['sh', [], 0],
    ['sh', ['sh-fallback'], 0x08],
    ['sh', ['sh-port'], 0x10],
    ['sh', ['sh-fallback', 'sh-port'], 0x18],
    ['sh', ['sh-port', 'sh-fallback'], 0x18],
    ['mh', ['mh-fallback'], 0x08],
    ['mh', ['mh-port'], 0x10],
    ['mh', ['mh-fallback', 'mh-port'], 0x18],
  ];
  for (const [scheduler, schedulerFlags, flags] of cases) {
    assert.equal(one({ scheduler, schedulerFlags }).services[0]?.service.flags, flags, `${scheduler} ${schedulerFlags.join(',')}`);
  }
  assert.deepEqual(SCHEDULER_FLAG_BITS, { 'sh-fallback': 0x08, 'sh-port': 0x10, 'mh-fallback': 0x08, 'mh-port': 0x10 });
});

test('persistence sets the persistent flag, the timeout and the netmask; without it timeout 0 and a full netmask', () => {
  assert.equal(IP_VS_SVC_F_PERSISTENT, 1);
  const cases: [Partial<VirtualServerSpec>, { flags: number; timeout: number; netmask: number }][] = [
    [{}, { flags: 0, timeout: 0, netmask: 32 }],
    [{ persistence: { timeoutS: 300, netmask: 32 } }, { flags: 1, timeout: 300, netmask: 32 }],
    [{ persistence: { timeoutS: 60, netmask: 24 } }, { flags: 1, timeout: 60, netmask: 24 }],
    [{ persistence: { timeoutS: 60, netmask: 24 }, scheduler: 'sh', schedulerFlags: ['sh-port'] }, { flags: 0x11, timeout: 60, netmask: 24 }],
    [{ key: { family: 6, protocol: 'TCP', address: '2001:db8::100', port: 80 }, realServers: [rs('2001:db8::1')] }, { flags: 0, timeout: 0, netmask: 128 }],
    [{ key: { family: 6, protocol: 'TCP', address: '2001:db8::100', port: 80 }, realServers: [rs('2001:db8::1')], persistence: { timeoutS: 1, netmask: 64 } }, { flags: 1, timeout: 1, netmask: 64 }],
    [{ key: { family: 4, fwmark: 9 }, virtualIP: undefined, persistence: { timeoutS: 7200, netmask: 16 } }, { flags: 1, timeout: 7200, netmask: 16 }],
    [{ key: { family: 6, fwmark: 9 }, virtualIP: undefined, realServers: [] }, { flags: 0, timeout: 0, netmask: 128 }],
  ];
  for (const [spec, want] of cases) {
    const s = one(spec).services[0]?.service;
    assert.deepEqual(s && { flags: s.flags, timeout: s.timeout, netmask: s.netmask }, want, JSON.stringify(spec));
  }
});

test('service keys: address services and firewall marks, in both families', () => {
  const keys = [
    { family: 4, protocol: 'UDP', address: '198.18.0.100', port: 53 },
    { family: 4, protocol: 'SCTP', address: '198.18.0.100', port: 3868 },
    { family: 6, protocol: 'TCP', address: '2001:db8::100', port: 443 },
    { family: 4, fwmark: 1 },
    { family: 6, fwmark: 2 },
  ] as const;
  for (const key of keys) assert.deepEqual(one({ key: { ...key }, realServers: [] }).services[0]?.service.key, key);
});

test('forwarding NAT, DR and TUN reaches every destination, sorry server included', () => {
  for (const forwarding of ['NAT', 'DR', 'TUN'] as const) {
    const d = one({ forwarding, realServers: [rs('10.0.0.1'), rs('2001:db8::1')], sorryServer: { address: '10.0.9.9', family: 4, port: 80 }, quorum: { min: 5, hysteresis: 0 } });
    assert.deepEqual(d.services[0]?.destinations.map((x) => x.forwarding), [forwarding], 'quorum lost: the sorry server only');
    const up = one({ forwarding, realServers: [rs('10.0.0.1'), rs('2001:db8::1', 1, 80)] });
    assert.deepEqual(up.services[0]?.destinations.map((x) => [x.address, x.family, x.forwarding]), [['10.0.0.1', 4, forwarding], ['2001:db8::1', 6, forwarding]]);
  }
});

test('weights, ports and thresholds are carried as configured', () => {
  const d = one({ realServers: [rs('10.0.0.1', 0, 8080), rs('10.0.0.2', 65535, 80, { upperThreshold: 100, lowerThreshold: 10 })] });
  assert.deepEqual(d.services[0]?.destinations, [
    dest('10.0.0.1', 0, { port: 8080 }),
    dest('10.0.0.2', 65535, { upperThreshold: 100, lowerThreshold: 10 }),
  ]);
  assert.equal(d.status[0]?.healthyWeight, 65535);
});

test('without a healthCheck, health is never asked and every real server is in', () => {
  let asked = 0;
  const d = one({}, () => (asked++, false));
  assert.equal(asked, 0);
  assert.equal(d.services[0]?.destinations.length, 2);
});

test('health: up keeps the weight, down removes or inhibits, unknown counts as up', () => {
  const table: [string, boolean, boolean | undefined, { dests: string[]; withdrawn: string[] }][] = [
    ['up', false, true, { dests: ['10.0.0.1:3', '10.0.0.2:1'], withdrawn: [] }],
    ['unknown', false, undefined, { dests: ['10.0.0.1:3', '10.0.0.2:1'], withdrawn: [] }],
    ['down, removed', false, false, { dests: ['10.0.0.2:1'], withdrawn: ['10.0.0.1:80'] }],
    ['down, inhibited', true, false, { dests: ['10.0.0.1:0', '10.0.0.2:1'], withdrawn: [] }],
    ['up, inhibit set', true, true, { dests: ['10.0.0.1:3', '10.0.0.2:1'], withdrawn: [] }],
  ];
  for (const [title, inhibitOnFailure, first, want] of table) {
    const d = one({ healthCheck: TCP_CHECK, inhibitOnFailure, realServers: [rs('10.0.0.1', 3), rs('10.0.0.2')] },
      (_owner, server) => (server.address === '10.0.0.1' ? first : true));
    const s = d.services[0];
    assert.deepEqual(s?.destinations.map((x) => `${x.address}:${x.weight}`), want.dests, title);
    assert.deepEqual(s?.withdrawn, want.withdrawn, title);
  }
});

test('the health lookup gets the owner and the real server', () => {
  const seen: string[] = [];
  desiredState({
    virtualServers: [virtualServer({ healthCheck: TCP_CHECK }, 'api', 'shop')],
    health: (owner, server) => (seen.push(realServerId(owner, server)), true),
  });
  assert.deepEqual(seen, ['shop/api 10.0.0.1:80', 'shop/api 10.0.0.2:80']);
});

test('quorum: lost below min, back only at min + hysteresis; the sorry server serves meanwhile', () => {
  // Four real servers of weight 1, min 3, hysteresis 1: lost below 3, back at 4.
  const servers = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((a) => rs(a));
  const spec: Partial<VirtualServerSpec> = {
    realServers: servers, healthCheck: TCP_CHECK, quorum: { min: 3, hysteresis: 1 },
    sorryServer: { address: '10.0.9.9', family: 4, port: 8080 },
  };
  // healthy count per step -> quorum held afterwards
  const steps: [number, boolean][] = [[4, true], [3, true], [2, false], [3, false], [4, true], [3, true], [2, false], [0, false], [4, true]];
  let quorum: ReadonlyMap<string, boolean> | undefined;
  for (const [i, [healthyCount, up]] of steps.entries()) {
    const d = one(spec, (_o, server) => servers.findIndex((s) => s.address === server.address) < healthyCount, quorum);
    quorum = d.quorum;
    const st = d.status[0];
    assert.equal(st?.quorumUp, up, `step ${i}: ${healthyCount} healthy`);
    assert.equal(st?.sorryActive, !up);
    assert.equal(st?.healthyWeight, healthyCount);
    const dests = d.services[0]?.destinations.map((x) => `${x.address}:${x.port}`);
    const withdrawn = d.services[0]?.withdrawn;
    if (up) {
      assert.deepEqual(dests, servers.slice(0, healthyCount).map((s) => `${s.address}:80`), `step ${i}`);
      assert.ok(withdrawn?.includes('10.0.9.9:8080'), 'the unused sorry server is withdrawn');
    } else {
      assert.deepEqual(dests, ['10.0.9.9:8080'], `step ${i}: only the sorry server`);
      assert.deepEqual(withdrawn, [...servers.map((s) => `${s.address}:80`)], 'every real server is withdrawn, healthy or not');
    }
  }
});

test('quorum at start (no previous state): held iff the healthy weight reaches min', () => {
  const spec = (min: number, hysteresis: number): Partial<VirtualServerSpec> => ({ quorum: { min, hysteresis }, sorryServer: { address: '10.0.9.9', family: 4, port: 80 } });
  assert.equal(one(spec(2, 5)).status[0]?.quorumUp, true, '2 >= 2, hysteresis not needed at start');
  assert.equal(one(spec(3, 0)).status[0]?.quorumUp, false);
  assert.equal(one(spec(2, 5), undefined, new Map([['default/web', false]])).status[0]?.quorumUp, false, 'once lost, 2 < 2 + 5');
  assert.equal(one(spec(0, 0), () => false).status[0]?.quorumUp, true, 'min 0: never lost');
});

test('the default quorum (1): the sorry server takes over when no real server is healthy', () => {
  const spec: Partial<VirtualServerSpec> = { healthCheck: TCP_CHECK, sorryServer: { address: '10.0.9.9', family: 4, port: 80 } };
  const up = one(spec, downSet('default/web 10.0.0.1:80'));
  assert.deepEqual(up.services[0]?.destinations.map((x) => x.address), ['10.0.0.2']);
  const down = one(spec, () => false);
  assert.deepEqual(down.services[0]?.destinations, [dest('10.0.9.9', 1)]);
  // Weight-0 real servers count nothing toward quorum.
  const zero = one({ ...spec, realServers: [rs('10.0.0.1', 0)] });
  assert.deepEqual(zero.services[0]?.destinations, [dest('10.0.9.9', 1)]);
});

test('quorum lost with inhibitOnFailure: real servers stay with weight 0 beside the sorry server', () => {
  const d = one({ healthCheck: TCP_CHECK, inhibitOnFailure: true, quorum: { min: 2, hysteresis: 0 }, sorryServer: { address: '10.0.9.9', family: 4, port: 80 } },
    downSet('default/web 10.0.0.2:80'));
  assert.deepEqual(d.services[0]?.destinations, [dest('10.0.0.1', 0), dest('10.0.0.2', 0), dest('10.0.9.9', 1)]);
  assert.deepEqual(d.services[0]?.withdrawn, []);
});

test('quorum lost without a sorry server changes nothing in the kernel', () => {
  const d = one({ healthCheck: TCP_CHECK, quorum: { min: 2, hysteresis: 0 } }, downSet('default/web 10.0.0.2:80'));
  assert.equal(d.status[0]?.quorumUp, false);
  assert.equal(d.status[0]?.sorryActive, false);
  assert.deepEqual(d.services[0]?.destinations, [dest('10.0.0.1')]);
});

test('services come sorted by key; a second VirtualServer with a taken key is a conflict', () => {
  const a = virtualServer({ key: { family: 4, protocol: 'UDP', address: '198.18.0.100', port: 53 } }, 'a');
  const b = virtualServer({}, 'b', 'z-ns');
  const c = virtualServer({}, 'c', 'a-ns');
  const d = desiredState({ virtualServers: [a, b, c] });
  assert.deepEqual(d.services.map((s) => s.owner), ['a-ns/c', 'default/a']);
  assert.deepEqual(d.conflicts, [{ owner: 'z-ns/b', key: 'TCP 198.18.0.100:80', with: 'a-ns/c' }]);
  assert.deepEqual([...d.quorum.keys()].sort(), ['a-ns/c', 'default/a']);
});

test('serviceOf is what desiredState uses', () => {
  const vs = virtualServer({ scheduler: 'mh', schedulerFlags: ['mh-port'], persistence: { timeoutS: 9, netmask: 8 } });
  assert.deepEqual(desiredState({ virtualServers: [vs] }).services[0]?.service, serviceOf(vs));
});
