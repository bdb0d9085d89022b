import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from '../../../src/controller/validation.ts';
import { instance, node, server, vs } from './fixtures.ts';

const nodes = [node('n1', { zone: 'a' }), node('n2', { zone: 'b' })];
const early = '2026-01-01T00:00:00Z';
const late = '2026-01-01T00:00:05Z';

test('valid instances are accepted and know which registered nodes they select', () => {
  const v = validate([
    instance('all', { vrid: 1, virtualIPs: ['198.18.0.100/24'] }),
    instance('zone-a', { vrid: 2, virtualIPs: ['198.18.0.101/24'], nodeSelector: { matchLabels: { zone: 'a' } } }),
  ], [], nodes);
  assert.deepEqual(v.instances.get('all'), { ...v.instances.get('all'), accepted: true, reason: 'Valid', nodes: ['n1', 'n2'] });
  assert.deepEqual(v.instances.get('zone-a')?.nodes, ['n1']);
});

test('an invalid spec is rejected with its field and reason', () => {
  const v = validate([instance('bad', { vrid: 300, virtualIPs: ['198.18.0.100/24'] })], [], nodes);
  const bad = v.instances.get('bad');
  assert.equal(bad?.accepted, false);
  assert.equal(bad?.reason, 'InvalidSpec');
  assert.match(bad?.message ?? '', /^spec\.vrid: must be an integer from 1 to 255, got 300$/);
});

test('a VRID shared on a node: the older instance keeps it, whatever the names', () => {
  const v = validate([
    instance('a-newer', { vrid: 7, virtualIPs: ['198.18.0.100/24'] }, { created: late }),
    instance('z-older', { vrid: 7, virtualIPs: ['198.18.0.101/24'], nodeSelector: { matchLabels: { zone: 'a' } } }, { created: early }),
  ], [], nodes);
  assert.equal(v.instances.get('z-older')?.accepted, true);
  const newer = v.instances.get('a-newer');
  assert.equal(newer?.reason, 'VRIDConflict');
  assert.equal(newer?.message, 'IPv4 VRID 7 on the interface holding the first virtual IP\'s subnet is already used by VrrpInstance/z-older on node n1: two routers with one VRID on one segment answer each other\'s adverts');
});

test('a VRID conflict on several nodes names the interface and every node, as a sentence', () => {
  const v = validate([
    instance('older', { vrid: 8, virtualIPs: ['2001:2::100/64'], interface: 'bond0' }, { created: early }),
    instance('newer', { vrid: 8, virtualIPs: ['2001:2::101/64'], interface: 'bond0' }, { created: late }),
  ], [], nodes);
  assert.equal(v.instances.get('newer')?.message, 'IPv6 VRID 8 on interface bond0 is already used by VrrpInstance/older on nodes n1 and n2: two routers with one VRID on one segment answer each other\'s adverts');
});

test('one VRID on disjoint nodes, other interfaces or the other family is no collision', () => {
  const v = validate([
    instance('a', { vrid: 7, virtualIPs: ['198.18.0.100/24'], nodeSelector: { matchLabels: { zone: 'a' } } }),
    instance('b', { vrid: 7, virtualIPs: ['198.18.0.101/24'], nodeSelector: { matchLabels: { zone: 'b' } } }),
    instance('c', { vrid: 7, virtualIPs: ['198.18.0.102/24'], interface: 'eth1' }),
    instance('d', { vrid: 7, virtualIPs: ['2001:2::100/64'] }),
    instance('e', { vrid: 7, virtualIPs: ['198.18.0.103/24'], nodeSelector: { matchLabels: { zone: 'nowhere' } } }),
  ], [], nodes);
  for (const n of ['a', 'b', 'c', 'd', 'e']) assert.equal(v.instances.get(n)?.accepted, true, n);
  assert.deepEqual(v.instances.get('e')?.nodes, []);
});

test('VRID collisions are decided per node, as each agent decides them', () => {
  // a {n1} is oldest; b {n1, n2} loses n1 to a; on n2, b is older than c, so c loses there.
  const v = validate([
    instance('a', { vrid: 9, virtualIPs: ['198.18.0.100/24'], nodeSelector: { matchLabels: { zone: 'a' } } }, { created: '2026-01-01T00:00:01Z' }),
    instance('b', { vrid: 9, virtualIPs: ['198.18.0.101/24'] }, { created: '2026-01-01T00:00:02Z' }),
    instance('c', { vrid: 9, virtualIPs: ['198.18.0.102/24'], nodeSelector: { matchLabels: { zone: 'b' } } }, { created: '2026-01-01T00:00:03Z' }),
  ], [], nodes);
  assert.equal(v.instances.get('a')?.accepted, true);
  assert.match(v.instances.get('b')?.message ?? '', /VrrpInstance\/a on node n1:/);
  assert.match(v.instances.get('c')?.message ?? '', /VrrpInstance\/b on node n2:/);
});

test('a VIP in two instances belongs to the older one', () => {
  const v = validate([
    instance('old', { vrid: 1, virtualIPs: ['198.18.0.100/24'] }, { created: early }),
    instance('new', { vrid: 2, virtualIPs: ['198.18.0.200/24', '198.18.0.100/32'] }, { created: late }),
    // Rejected for its VRID, so it owns no VIP either: the next one may use 198.18.0.150.
    instance('vrid-clash', { vrid: 1, virtualIPs: ['198.18.0.150/24'] }, { created: late }),
    instance('later', { vrid: 3, virtualIPs: ['198.18.0.150/24', '198.18.0.200/24'] }, { created: '2026-01-01T00:01:00Z' }),
  ], [], nodes);
  assert.equal(v.instances.get('old')?.accepted, true);
  assert.equal(v.instances.get('new')?.reason, 'VIPConflict');
  assert.match(v.instances.get('new')?.message ?? '', /virtual IP 198\.18\.0\.100 already belongs to VrrpInstance\/old/);
  assert.equal(v.instances.get('vrid-clash')?.reason, 'VRIDConflict');
  // 198.18.0.200 is free too: `new` was rejected, so it does not hold its VIPs.
  assert.equal(v.instances.get('later')?.accepted, true);
});

test('VirtualServers: missing, refusing or unaccepted instances, foreign VIPs, bad specs, taken services', () => {
  const v = validate([
    instance('web', { vrid: 1, virtualIPs: ['198.18.0.100/24'], allowedNamespaces: ['team-a'] }),
    instance('open', { vrid: 2, virtualIPs: ['198.18.0.110/24'] }),
    instance('broken', { vrid: 0, virtualIPs: ['198.18.0.120/24'] }),
  ], [
    server('team-a', 'ok', vs('web', '198.18.0.100'), { created: early }),
    server('team-a', 'lost', vs('nothing', '198.18.0.100')),
    server('team-b', 'foreign', vs('web', '198.18.0.100')),
    server('team-a', 'wrong-vip', vs('web', '198.18.0.101')),
    server('team-a', 'on-broken', vs('broken', '198.18.0.120')),
    server('team-a', 'bad-scheduler', vs('web', '198.18.0.100', 81, { scheduler: 'fastest' })),
    server('team-a', 'same-service', vs('web', '198.18.0.100'), { created: late }),
    server('team-z', 'anywhere', vs('open', '198.18.0.110')),
  ], nodes);
  const r = (k: string): [boolean | undefined, string | undefined] => [v.servers.get(k)?.accepted, v.servers.get(k)?.reason];
  assert.deepEqual(r('team-a/ok'), [true, 'Valid']);
  assert.deepEqual(r('team-a/lost'), [false, 'InstanceNotFound']);
  assert.match(v.servers.get('team-a/lost')?.message ?? '', /VrrpInstance\/nothing \(spec\.vrrpInstanceRef\) does not exist/);
  assert.deepEqual(r('team-b/foreign'), [false, 'NamespaceNotAllowed']);
  assert.match(v.servers.get('team-b/foreign')?.message ?? '', /namespace team-b: its spec\.allowedNamespaces is team-a/);
  assert.deepEqual(r('team-a/wrong-vip'), [false, 'VIPNotInInstance']);
  assert.deepEqual(r('team-a/on-broken'), [false, 'InstanceNotAccepted']);
  assert.match(v.servers.get('team-a/on-broken')?.message ?? '', /VrrpInstance\/broken is not accepted \(InvalidSpec\): spec\.vrid/);
  assert.deepEqual(r('team-a/bad-scheduler'), [false, 'InvalidSpec']);
  assert.match(v.servers.get('team-a/bad-scheduler')?.message ?? '', /^spec\.scheduler: must be one of/);
  assert.deepEqual(r('team-a/same-service'), [false, 'ServiceConflict']);
  assert.match(v.servers.get('team-a/same-service')?.message ?? '', /TCP 198\.18\.0\.100:80 is already defined by VirtualServer\/team-a\/ok/);
  assert.deepEqual(r('team-z/anywhere'), [true, 'Valid']);
});

test('without registered nodes nothing collides on a node', () => {
  const v = validate([
    instance('a', { vrid: 5, virtualIPs: ['198.18.0.100/24'] }),
    instance('b', { vrid: 5, virtualIPs: ['198.18.0.101/24'] }),
  ], [], []);
  assert.equal(v.instances.get('b')?.accepted, true);
  assert.deepEqual(v.instances.get('b')?.nodes, []);
});
