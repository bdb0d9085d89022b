// Protocol variants on real agents: VRRPv2 with a password, unicast peers, IPv6.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vrrpInstance } from '../lab/agent.ts';
import { vip4, vip6 } from '../lab/lab.ts';
import { sleep } from '../lab/run.ts';
import { useLab, startAgents, assertServedBy, holders } from './scenario.ts';

const lab = useLab(2, 'variants');

function secret(password: string): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vrrp' }, stringData: { password } };
}

test('VRRPv2 with a simple password elects and fails over; a wrong password is ignored', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const VIP = vip4(2);
  const inst = vrrpInstance({ version: 2, vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '1s', authentication: { type: 'PASS', secretRef: { name: 'vrrp', key: 'password' } } });
  const [a1, a2] = startAgents(lab(), [n1, n2], [inst, secret('s3cret')], t);
  await a1?.waitForState('vi', 'Master', 6000);
  await a2?.waitForState('vi', 'Backup', 6000);
  await assertServedBy(lab(), VIP, n1);
  await a1?.proc.stop();
  await a2?.waitForState('vi', 'Master', 3000);
  await assertServedBy(lab(), VIP, n2);
});

test('VRRPv2 peers with different passwords do not hear each other', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const VIP = vip4(3);
  const inst = vrrpInstance({ version: 2, vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '1s', authentication: { type: 'PASS', secretRef: { name: 'vrrp', key: 'password' } } });
  startAgents(lab(), [n1], [inst, secret('one')], t);
  const [a2] = startAgents(lab(), [n2], [inst, secret('two')], t);
  // n2 hears nothing it accepts: Master after its master-down interval (3.61 s at 1 s adverts),
  // counted from its start, which takes seconds of its own on a loaded machine.
  await a2?.waitForState('vi', 'Master', 10000);
  await sleep(500);
  assert.deepEqual(await holders(lab(), VIP), ['n1', 'n2']);
});

test('unicast peers: election and failover without multicast', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const VIP = vip4(4);
  const forNode = (peer: string): Record<string, unknown> => vrrpInstance({ vips: [`${VIP}/24`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms', unicastPeers: [peer] });
  const [a1] = startAgents(lab(), [n1], [forNode(n2.ipv4)], t);
  const [a2] = startAgents(lab(), [n2], [forNode(n1.ipv4)], t);
  await a1?.waitForState('vi', 'Master', 5000);
  await a2?.waitForState('vi', 'Backup', 5000);
  await assertServedBy(lab(), VIP, n1);
  a1?.proc.signal('SIGKILL');
  await a2?.waitForState('vi', 'Master', 2000);
  await assertServedBy(lab(), VIP, n2);
});

test('IPv6 VIP over VRRPv3: election, unsolicited NA moves the client on failover', async (t) => {
  const [n1, n2] = lab().nodes;
  assert.ok(n1 && n2);
  const VIP = vip6(0);
  const inst = vrrpInstance({ vips: [`${VIP}/64`], priority: 100, priorityOverrides: [{ node: 'n1', priority: 150 }], advertisementInterval: '100ms' });
  const [a1, a2] = startAgents(lab(), [n1, n2], [inst], t);
  await a1?.waitForState('vi', 'Master', 5000);
  await a2?.waitForState('vi', 'Backup', 5000);
  await assertServedBy(lab(), VIP, n1);
  a1?.proc.signal('SIGTERM');
  await a2?.waitForState('vi', 'Master', 2000);
  await assertServedBy(lab(), VIP, n2);
});
