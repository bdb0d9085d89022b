// This node's status.nodes entries: what they say after transitions, snapshots and health
// changes, and that nothing is reported when nothing changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources } from '../../../src/api/documents.ts';
import { NodeStatusEntries, transitionNote } from '../../../src/agent/status-entries.ts';
import type { EntryChange } from '../../../src/agent/status-entries.ts';
import type { InstancePlan, InstanceSnapshot } from '../../../src/agent/messages.ts';

const SET = parseResources(`
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi }
spec: { vrid: 51, virtualIPs: ["198.18.0.100/24"] }
---
apiVersion: kubelived.io/v1alpha1
kind: VirtualServer
metadata: { name: web, namespace: shop }
spec:
  vrrpInstanceRef: vi
  virtualIP: 198.18.0.100
  port: 80
  healthCheck: { type: TCP }
  quorum: { min: 2 }
  realServers: [{ address: 10.0.0.1, port: 8080 }, { address: 10.0.0.2, port: 8080, weight: 3 }]
`, 'f.yaml');

const PLAN = { name: 'vi', priority: 150 } as InstancePlan;
const snap = (o: Partial<InstanceSnapshot>): InstanceSnapshot =>
  ({ name: 'vi', state: 'Backup', effectivePriority: 150, masterIP: undefined, advertsSent: 0, advertsReceived: 0, drops: {}, ...o });

function clock(): { now: () => number; at: (iso: string) => void } {
  let t = Date.parse('2026-05-01T10:00:00Z');
  return { now: () => t, at: (iso) => { t = Date.parse(iso); } };
}

const only = (changes: EntryChange[], kind: EntryChange['kind']): EntryChange[] => changes.filter((c) => c.kind === kind);

test('a new instance starts as INIT; a transition gives state, reason, since and masterIP', () => {
  const c = clock();
  const e = new NodeStatusEntries('n1', c.now);
  const start = e.running([PLAN], SET.virtualServers);
  e.ipvs(new Map([['shop/web', undefined]]));
  assert.deepEqual(only(start, 'VrrpInstance'), [{
    kind: 'VrrpInstance', name: 'vi',
    entry: { node: 'n1', state: 'INIT', effectivePriority: 150, since: '2026-05-01T10:00:00Z', reason: 'starting' },
  }]);
  c.at('2026-05-01T10:00:03.400Z');
  const t = e.transition({ instance: 'vi', to: 'Master', reason: 'master down timer expired', masterIP: '198.18.0.11', effectivePriority: 150 });
  assert.deepEqual(only(t, 'VrrpInstance')[0], {
    kind: 'VrrpInstance', name: 'vi',
    entry: { node: 'n1', state: 'MASTER', effectivePriority: 150, since: '2026-05-01T10:00:03Z', reason: 'master down timer expired', masterIP: '198.18.0.11' },
  });
  // The VirtualServer's entry follows its instance's state on this node.
  const vs = only(t, 'VirtualServer')[0];
  assert.equal(vs?.kind === 'VirtualServer' ? vs.entry?.state : undefined, 'MASTER');
});

test('snapshots report only real changes: a tracked priority, the master a backup sees', () => {
  const e = new NodeStatusEntries('n1', clock().now);
  e.running([PLAN], []);
  e.transition({ instance: 'vi', to: 'Backup', reason: 'start', masterIP: undefined, effectivePriority: 150 });
  assert.deepEqual(e.snapshot([snap({})]), []);
  const seen = e.snapshot([snap({ masterIP: '198.18.0.12' })]);
  assert.equal(seen[0]?.kind === 'VrrpInstance' ? seen[0].entry?.masterIP : undefined, '198.18.0.12');
  assert.deepEqual(e.snapshot([snap({ masterIP: '198.18.0.12' })]), []);
  const tracked = e.snapshot([snap({ masterIP: '198.18.0.12', effectivePriority: 130 })]);
  assert.equal(tracked[0]?.kind === 'VrrpInstance' ? tracked[0].entry?.effectivePriority : undefined, 130);
  assert.deepEqual(e.snapshot([snap({ name: 'unknown' })]), []);
});

const PROGRAMMED = new Map([['shop/web', undefined]]);

test('VirtualServer entries: written once IPVS has been tried; health per real server, healthy/total and quorum; unchanged results report nothing', () => {
  const c = clock();
  const e = new NodeStatusEntries('n1', c.now);
  assert.deepEqual(only(e.running([PLAN], SET.virtualServers), 'VirtualServer'), [], 'nothing to say before the first IPVS run');
  c.at('2026-05-01T10:00:00.200Z');
  const [vs] = e.ipvs(PROGRAMMED);
  assert.deepEqual(vs, {
    kind: 'VirtualServer', namespace: 'shop', name: 'web',
    entry: {
      node: 'n1', state: 'INIT', programmed: true, healthy: 2, total: 2, quorum: true, since: '2026-05-01T10:00:00Z',
      realServers: [{ address: '10.0.0.1', port: 8080, weight: 1, healthy: true }, { address: '10.0.0.2', port: 8080, weight: 3, healthy: true }],
    },
  });
  assert.deepEqual(e.ipvs(PROGRAMMED), [], 'the same word again changes nothing');
  const rs2 = SET.virtualServers[0]?.spec.realServers[1];
  assert.ok(rs2);
  assert.deepEqual(e.realServer('shop/web', rs2, true), [], 'unknown counted healthy already');
  c.at('2026-05-01T10:01:00Z');
  const down = e.realServer('shop/web', rs2, false);
  const entry = down[0]?.kind === 'VirtualServer' ? down[0].entry : undefined;
  assert.equal(entry?.healthy, 1);
  assert.equal(entry?.quorum, false, 'weight 1 left, quorum min 2');
  assert.equal(entry?.since, '2026-05-01T10:01:00Z');
  assert.deepEqual(entry?.realServers.map((r) => r.healthy), [true, false]);
  assert.deepEqual(e.realServer('shop/web', rs2, false), []);
  assert.deepEqual(e.running([PLAN], SET.virtualServers), [], 'the same config changes nothing');
});

test('a VirtualServer the kernel does not hold: not programmed, why, and no real server in service', () => {
  const c = clock();
  const e = new NodeStatusEntries('n1', c.now);
  e.running([PLAN], SET.virtualServers);
  const why = 'IPVS is not available in this kernel (modprobe ip_vs)';
  const [failed] = e.ipvs(new Map([['shop/web', why]]));
  assert.deepEqual(failed?.kind === 'VirtualServer' ? failed.entry : undefined, {
    node: 'n1', state: 'INIT', programmed: false, message: why, healthy: 0, total: 2, quorum: false, since: '2026-05-01T10:00:00Z',
    realServers: [{ address: '10.0.0.1', port: 8080, weight: 1, healthy: false }, { address: '10.0.0.2', port: 8080, weight: 3, healthy: false }],
  });
  assert.deepEqual(e.ipvs(new Map([['shop/web', why]])), [], 'a retry failing the same way changes nothing');
  c.at('2026-05-01T10:00:05Z');
  const [fixed] = e.ipvs(PROGRAMMED);
  const entry = fixed?.kind === 'VirtualServer' ? fixed.entry : undefined;
  assert.deepEqual([entry?.programmed, entry?.message, entry?.healthy, entry?.quorum, entry?.since], [true, undefined, 2, true, '2026-05-01T10:00:05Z']);
  assert.deepEqual(e.ipvs(new Map([['other/vs', why]])), [], 'a VirtualServer this node does not run');
});

test('entries go when the node stops running them, and say STOPPED on a graceful stop', () => {
  const e = new NodeStatusEntries('n1', clock().now);
  e.running([PLAN], SET.virtualServers);
  e.ipvs(PROGRAMMED);
  e.transition({ instance: 'vi', to: 'Master', reason: 'preempt', masterIP: '198.18.0.11', effectivePriority: 150 });
  const stopped = e.stopped();
  assert.deepEqual(stopped.map((c) => [c.kind, c.entry?.state]), [['VrrpInstance', 'STOPPED'], ['VirtualServer', 'STOPPED']]);
  assert.equal(stopped[0]?.kind === 'VrrpInstance' ? stopped[0].entry?.masterIP : 'x', undefined);
  const removed = e.running([], []);
  assert.deepEqual(removed, [
    { kind: 'VrrpInstance', name: 'vi', entry: undefined },
    { kind: 'VirtualServer', namespace: 'shop', name: 'web', entry: undefined },
  ]);
});

test('an entry never written is never removed, nor reported STOPPED', () => {
  const e = new NodeStatusEntries('n1', clock().now);
  e.running([PLAN], SET.virtualServers);
  assert.deepEqual(only(e.stopped(), 'VirtualServer'), []);
  assert.deepEqual(only(e.running([PLAN], []), 'VirtualServer'), []);
});

test('transition Events read as sentences, with the states spelled as status spells them', () => {
  assert.equal(transitionNote('n1', { from: 'Backup', to: 'Master', reason: 'master-down timer expired' }), 'n1 became MASTER (was BACKUP): the master-down timer expired.');
  assert.equal(transitionNote('n1', { from: 'Initialize', to: 'Backup', reason: 'startup' }), 'n1 became BACKUP (was INIT): the instance started.');
  assert.equal(transitionNote('n2', { from: 'Master', to: 'Backup', reason: 'higher priority advert from 198.18.0.11 (150)' }), 'n2 became BACKUP (was MASTER): higher priority advert from 198.18.0.11 (150).');
  assert.equal(transitionNote('n2', { from: 'Master', to: 'Fault', reason: 'track mysql down' }), 'n2 became FAULT (was MASTER): track mysql down.');
  assert.equal(transitionNote('n1', { from: 'Master', to: 'Initialize', reason: 'shutdown' }), 'n1 stopped running this instance (was MASTER).');
});
