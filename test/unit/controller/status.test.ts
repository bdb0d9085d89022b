import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeInstance, summarizeServer } from '../../../src/controller/status.ts';
import type { AgentLeases } from '../../../src/controller/status.ts';
import { validate } from '../../../src/controller/validation.ts';
import type { Condition, InstanceEntry, InstanceObject, ServerEntry } from '../../../src/controller/objects.ts';
import { kubeTime } from '../../../src/kube/resources.ts';
import { instance, node, server, vs } from './fixtures.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const nodes = [node('n1'), node('n2'), node('n3')];
const spec = { vrid: 1, virtualIPs: ['198.18.0.100/24'], advertisementInterval: '1s' };

/** Every node's Lease renewed `renewedAgo` ms ago with a 40 s duration, unless listed in `dead`. */
function leases(renewedAgo = 1000, dead: string[] = [], renewedAt: Record<string, number> = {}): AgentLeases {
  return (n) => {
    if (dead.includes(n)) return { renewMs: NOW - 60_000, expiresMs: NOW - 20_000 };
    const renewMs = renewedAt[n] ?? NOW - renewedAgo;
    return { renewMs, expiresMs: renewMs + 40_000 };
  };
}

function entry(n: string, state: InstanceEntry['state'], sinceAgo: number, reason = ''): InstanceEntry {
  return { node: n, state, effectivePriority: 100, since: kubeTime(NOW - sinceAgo), reason };
}

function summarize(o: InstanceObject, l: AgentLeases = leases(), now = NOW): ReturnType<typeof summarizeInstance> {
  const v = validate([o], [], nodes).instances.get(o.metadata.name);
  assert.ok(v);
  return summarizeInstance(o, v, l, now);
}

function cond(list: Condition[], type: string): Pick<Condition, 'status' | 'reason'> & { message: string } {
  const c = list.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return c;
}

test('the MASTER entry names the master; NODES counts the live entries', () => {
  const s = summarize(instance('vi', spec, { generation: 4, nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'BACKUP', 60_000)] }));
  assert.equal(s.status.master, 'n1');
  assert.equal(s.status.nodeCount, 2);
  assert.equal(s.status.observedGeneration, 4);
  assert.deepEqual(cond(s.status.conditions, 'Ready'), { ...cond(s.status.conditions, 'Ready'), status: 'True', reason: 'MasterElected', message: 'n1 is MASTER' });
  assert.equal(cond(s.status.conditions, 'Accepted').status, 'True');
  assert.equal(cond(s.status.conditions, 'Degraded').status, 'False');
  assert.equal(cond(s.status.conditions, 'SplitBrain').status, 'False');
  assert.ok(s.status.conditions.every((c) => c.observedGeneration === 4 && c.lastTransitionTime === '2026-03-01T12:00:00Z'));
  // Nothing changes by itself until the first Lease would expire.
  assert.equal(s.recheckAt, NOW - 1000 + 40_000);
});

test('an expired Lease makes the entry stale: not a claim, not counted, reported as Degraded', () => {
  const o = instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'BACKUP', 60_000), entry('n3', 'STOPPED', 60_000)] });
  const s = summarize(o, leases(1000, ['n1', 'n3']));
  assert.equal(s.status.master, '');
  assert.equal(s.status.nodeCount, 1);
  assert.equal(cond(s.status.conditions, 'Ready').reason, 'NoMaster');
  // n3 stopped on purpose (graceful shutdown): only n1 is a problem.
  assert.deepEqual(cond(s.status.conditions, 'Degraded'), { ...cond(s.status.conditions, 'Degraded'), status: 'True', reason: 'AgentNotReporting', message: 'the agent on n1 stopped renewing its liveness Lease; its entry no longer counts' });
  const none = summarize(o, () => undefined);
  assert.equal(none.status.nodeCount, 0);
  assert.equal(cond(none.status.conditions, 'Ready').reason, 'NoReports');
});

test('an agent starting (its entry written before its first Lease) is not a failure; one that never renews is', () => {
  // n2 wrote its first entry 2 s ago and has no Lease yet; n3 restarted 1 s ago over a Lease
  // that expired long ago. Neither is Degraded, and the summary looks again when they would be.
  const starting = instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'BACKUP', 2000, 'startup'), entry('n3', 'INIT', 1000, 'starting')] });
  const l: AgentLeases = (n) => (n === 'n1' ? { renewMs: NOW - 1000, expiresMs: NOW + 39_000 } : n === 'n3' ? { renewMs: NOW - 120_000, expiresMs: NOW - 80_000 } : undefined);
  const s = summarize(starting, l);
  assert.deepEqual(cond(s.status.conditions, 'Degraded'), { ...cond(s.status.conditions, 'Degraded'), status: 'False', reason: 'AsExpected' });
  assert.equal(s.status.nodeCount, 1, 'not counted before their Lease');
  assert.equal(s.recheckAt, NOW - 2000 + 40_000);
  // 40 s later without a Lease: n2's agent is not reporting (n3 renewed in the meantime).
  const n3Renewed: AgentLeases = (n) => (n === 'n2' ? undefined : { renewMs: NOW + 30_000, expiresMs: NOW + 70_000 });
  const late = summarize(starting, n3Renewed, NOW + 40_000);
  assert.deepEqual(cond(late.status.conditions, 'Degraded'), {
    ...cond(late.status.conditions, 'Degraded'), status: 'True', reason: 'AgentNotReporting', message: 'the agent on n2 has no liveness Lease; its entry no longer counts',
  });
  // Every agent starting: no report yet, and Ready says so.
  const fresh = summarize(instance('vi', spec, { nodes: [entry('n1', 'BACKUP', 500), entry('n2', 'INIT', 300)] }), () => undefined);
  assert.deepEqual(cond(fresh.status.conditions, 'Ready'), {
    ...cond(fresh.status.conditions, 'Ready'), status: 'False', reason: 'NoReports', message: 'no agent reports this instance yet: n1 and n2 are starting (no liveness Lease yet)',
  });
  assert.equal(cond(fresh.status.conditions, 'Degraded').status, 'False');
  // Several agents stopped renewing: one sentence, plural.
  const dead = summarize(instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'BACKUP', 60_000), entry('n3', 'BACKUP', 60_000)] }), leases(1000, ['n1', 'n2']));
  assert.equal(cond(dead.status.conditions, 'Degraded').message, 'the agents on n1 and n2 stopped renewing their liveness Leases; their entries no longer count');
});

test('three MASTERs: all of them in split brain', () => {
  const o = instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'MASTER', 5000), entry('n3', 'MASTER', 5000)] });
  assert.equal(cond(summarize(o).status.conditions, 'SplitBrain').message, 'n1, n2 and n3 have all been MASTER for longer than one advertisement interval (1000ms)');
});

test('two MASTER claims: the newer one is the master; within one advert interval it is a takeover', () => {
  const o = instance('vi', { ...spec, advertisementInterval: '3s' }, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'MASTER', 1000)] });
  const s = summarize(o);
  assert.equal(s.status.master, 'n2');
  assert.deepEqual(cond(s.status.conditions, 'SplitBrain'), {
    ...cond(s.status.conditions, 'SplitBrain'), status: 'False', reason: 'AtMostOneMaster',
    message: 'n1 and n2 claim MASTER: a takeover the old master has not reported yet',
  });
  // Look again when the overlap is one interval (3 s) old.
  assert.equal(s.recheckAt, NOW - 1000 + 3000);
});

test('split brain: both live nodes MASTER beyond one interval, both Leases renewed since', () => {
  const o = instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'MASTER', 5000), entry('n3', 'BACKUP', 60_000)] });
  const s = summarize(o, leases(1000));
  assert.deepEqual(cond(s.status.conditions, 'SplitBrain'), {
    ...cond(s.status.conditions, 'SplitBrain'), status: 'True', reason: 'MultipleMasters',
    message: 'n1 and n2 have both been MASTER for longer than one advertisement interval (1000ms)',
  });
  assert.equal(s.status.master, 'n2');
});

test('a SIGKILLed master still says MASTER until its Lease expires: its successor is no split brain', () => {
  // n1 died 5 s ago (last renewal 6 s ago); n2 took over 3 s ago and renews.
  const o = instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'MASTER', 3000)] });
  const s = summarize(o, leases(1000, [], { n1: NOW - 6000 }));
  assert.equal(s.status.master, 'n2');
  assert.equal(cond(s.status.conditions, 'SplitBrain').status, 'False');
  assert.equal(s.status.nodeCount, 2, 'n1 counts until its Lease expires');
});

test('FAULT on a live node is Degraded, with its reason', () => {
  const s = summarize(instance('vi', spec, { nodes: [entry('n1', 'MASTER', 60_000), entry('n2', 'FAULT', 1000, 'link down')] }));
  assert.deepEqual(cond(s.status.conditions, 'Degraded'), { ...cond(s.status.conditions, 'Degraded'), status: 'True', reason: 'NodeFault', message: 'n2 is FAULT (link down)' });
});

test('Ready says why not: not accepted, no selected node', () => {
  const bad = summarize(instance('vi', { ...spec, vrid: 0 }));
  assert.equal(cond(bad.status.conditions, 'Accepted').reason, 'InvalidSpec');
  assert.equal(cond(bad.status.conditions, 'Ready').reason, 'NotAccepted');
  const nowhere = summarize(instance('vi', { ...spec, nodeSelector: { matchLabels: { zone: 'x' } } }));
  assert.equal(cond(nowhere.status.conditions, 'Ready').reason, 'NoMatchingNodes');
});

test('recomputing over its own output changes nothing; a flip moves only its lastTransitionTime', () => {
  const nodesNow = [entry('n1', 'MASTER', 60_000)];
  const first = summarize(instance('vi', spec, { nodes: nodesNow }));
  const o = instance('vi', spec, { nodes: nodesNow });
  o.status = { ...o.status, ...first.status };
  const again = summarize(o, leases(), NOW + 5000);
  assert.deepEqual(again.status, first.status);
  // n1 FAULTs later: Degraded and Ready flip, Accepted and SplitBrain keep their times.
  o.status.nodes = [entry('n1', 'FAULT', 0, 'track down')];
  const later = summarize(o, leases(), NOW + 10_000);
  assert.equal(cond(later.status.conditions, 'Degraded').status, 'True');
  const t = (type: string): string | undefined => later.status.conditions.find((c) => c.type === type)?.lastTransitionTime;
  assert.equal(t('Accepted'), '2026-03-01T12:00:00Z');
  assert.equal(t('SplitBrain'), '2026-03-01T12:00:00Z');
  assert.equal(t('Degraded'), '2026-03-01T12:00:10Z');
  assert.equal(t('Ready'), '2026-03-01T12:00:10Z');
});

function serverEntry(n: string, healthy: number, total: number, quorum = true, down: string[] = []): ServerEntry {
  const realServers = Array.from({ length: total }, (_, i) => ({ address: `198.18.1.${i + 1}`, port: 8080, weight: 1, healthy: !down.includes(`198.18.1.${i + 1}`) }));
  return { node: n, state: 'MASTER', programmed: true, healthy, total, quorum, realServers, since: kubeTime(NOW) };
}

/** An entry as an agent writes it when its kernel does not hold the service. */
function unprogrammed(n: string, message: string, state: ServerEntry['state'] = 'MASTER'): ServerEntry {
  const realServers = [1, 2].map((i) => ({ address: `198.18.1.${i}`, port: 8080, weight: 1, healthy: false }));
  return { node: n, state, programmed: false, message, healthy: 0, total: 2, quorum: false, realServers, since: kubeTime(NOW) };
}

function summarizeVs(entries: ServerEntry[] | undefined, master: string, extra: Record<string, unknown> = {}): ReturnType<typeof summarizeServer> {
  const o = server('default', 'web', vs('vi', '198.18.0.100', 80, extra), entries ? { nodes: entries } : {});
  const v = validate([instance('vi', spec)], [o], nodes).servers.get('default/web');
  assert.ok(v);
  return summarizeServer(o, v, master, leases(), NOW);
}

test('VirtualServer READY is what the master sees; Degraded names the servers that are down', () => {
  const s = summarizeVs([serverEntry('n1', 1, 2, true, ['198.18.1.2']), serverEntry('n2', 2, 2)], 'n1');
  assert.equal(s.status.master, 'n1');
  assert.equal(s.status.ready, '1/2');
  assert.deepEqual(cond(s.status.conditions, 'Ready'), { ...cond(s.status.conditions, 'Ready'), status: 'True', reason: 'Serving', message: 'n1 serves with 1/2 healthy real servers' });
  assert.deepEqual(cond(s.status.conditions, 'Degraded'), { ...cond(s.status.conditions, 'Degraded'), status: 'True', reason: 'RealServersDown', message: '1 of 2 real servers down on n1: 198.18.1.2:8080' });
});

test('VirtualServer without a master, a report from it, or quorum is not Ready', () => {
  const noMaster = summarizeVs([serverEntry('n2', 2, 2)], '');
  assert.equal(noMaster.status.ready, '0/2');
  assert.equal(cond(noMaster.status.conditions, 'Ready').reason, 'NoMaster');
  const silent = summarizeVs(undefined, 'n1');
  assert.equal(silent.status.ready, '0/2', 'the total comes from the spec until someone reports');
  assert.equal(cond(silent.status.conditions, 'Ready').reason, 'NoReport');
  const lost = summarizeVs([serverEntry('n1', 0, 2, false, ['198.18.1.1', '198.18.1.2'])], 'n1');
  assert.equal(cond(lost.status.conditions, 'Ready').reason, 'QuorumLost');
  assert.equal(lost.status.ready, '0/2');
});

test('a VirtualServer that is not accepted shows no master', () => {
  const s = summarizeVs([serverEntry('n1', 2, 2)], 'n1', { scheduler: 'nope' });
  assert.equal(s.status.master, '');
  assert.equal(cond(s.status.conditions, 'Accepted').reason, 'InvalidSpec');
  assert.equal(cond(s.status.conditions, 'Ready').reason, 'NotAccepted');
  assert.equal(cond(s.status.conditions, 'Degraded').status, 'False');
});

test('a master that could not program the service is not Ready, READY counts nothing, Degraded names every such node', () => {
  const why = 'IPVS is not available in this kernel (modprobe ip_vs)';
  const s = summarizeVs([unprogrammed('n1', why), unprogrammed('n2', why, 'BACKUP')], 'n1');
  assert.equal(s.status.ready, '0/2');
  assert.deepEqual(cond(s.status.conditions, 'Ready'), {
    ...cond(s.status.conditions, 'Ready'), status: 'False', reason: 'NotProgrammed', message: `the master n1 could not program the service in its kernel: ${why}`,
  });
  assert.deepEqual(cond(s.status.conditions, 'Degraded'), {
    ...cond(s.status.conditions, 'Degraded'), status: 'True', reason: 'NotProgrammed', message: `the service is not programmed in the kernel of n1 and n2: ${why}`,
  });
  // A backup without the service: the master serves, but a takeover would not.
  const backup = summarizeVs([serverEntry('n1', 2, 2), unprogrammed('n2', 'IPVS_CMD_NEW_SERVICE TCP 198.18.0.100:80: No such file or directory (scheduler)', 'BACKUP')], 'n1');
  assert.equal(backup.status.ready, '2/2');
  assert.equal(cond(backup.status.conditions, 'Ready').reason, 'Serving');
  assert.deepEqual(cond(backup.status.conditions, 'Degraded'), {
    ...cond(backup.status.conditions, 'Degraded'), status: 'True', reason: 'NotProgrammed',
    message: 'the service is not programmed in the kernel of n2: IPVS_CMD_NEW_SERVICE TCP 198.18.0.100:80: No such file or directory (scheduler)',
  });
});
