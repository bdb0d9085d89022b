// unicastPeers [auto] -> the addresses one node sends to: the InternalIPs of the other Nodes the
// instance selects, of its family, sorted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoPeers } from '../../../src/agent/kube-peers.ts';
import type { NodeObject } from '../../../src/agent/kube-peers.ts';

function node(name: string, addresses: [type: string, address: string][], labels: Record<string, string> = {}): NodeObject {
  return { metadata: { name, labels }, status: { addresses: addresses.map(([type, address]) => ({ type, address })) } };
}

const NODES = [
  node('n10', [['InternalIP', '198.18.0.10'], ['Hostname', 'n10']], { role: 'lb' }),
  node('n9', [['InternalIP', '198.18.0.9'], ['InternalIP', '2001:2::9']], { role: 'lb' }),
  node('n1', [['InternalIP', '198.18.0.1'], ['InternalIP', '2001:2::1']], { role: 'lb' }),
  node('v6only', [['InternalIP', '2001:2::20']], { role: 'lb' }),
  node('worker', [['InternalIP', '198.18.0.30']], { role: 'worker' }),
  node('external', [['ExternalIP', '198.19.0.40'], ['Hostname', 'external']], { role: 'lb' }),
];

test('the other selected Nodes\' InternalIPs of the family, sorted by address, this node left out', () => {
  assert.deepEqual(autoPeers({ role: 'lb' }, 4, NODES, 'n1'), {
    addresses: ['198.18.0.9', '198.18.0.10'], // by address, not as text, nor in the Nodes' order
    withoutAddress: ['external', 'v6only'], // an ExternalIP is not a peer's address
  });
});

test('no selector selects every Node', () => {
  assert.deepEqual(autoPeers({}, 4, NODES, 'n1').addresses, ['198.18.0.9', '198.18.0.10', '198.18.0.30']);
});

test('IPv6: a dual-stack Node peers by its IPv6 InternalIP, an IPv4-only one is skipped', () => {
  assert.deepEqual(autoPeers({ role: 'lb' }, 6, NODES, 'n1'), { addresses: ['2001:2::9', '2001:2::20'], withoutAddress: ['external', 'n10'] });
});

test('a node alone has no peers; addresses are canonical and each listed once', () => {
  assert.deepEqual(autoPeers({ role: 'lb' }, 4, [NODES[2] as NodeObject], 'n1'), { addresses: [], withoutAddress: [] });
  assert.deepEqual(autoPeers({ role: 'lb' }, 4, NODES, 'elsewhere').addresses, ['198.18.0.1', '198.18.0.9', '198.18.0.10'], 'a node that is not selected itself');
  const spelled = [node('a', [['InternalIP', '2001:0002::0009']]), node('b', [['InternalIP', '2001:2::9']]), node('c', [['InternalIP', 'not-an-address']])];
  assert.deepEqual(autoPeers({}, 6, spelled, 'n1'), { addresses: ['2001:2::9'], withoutAddress: ['c'] });
  assert.deepEqual(autoPeers({}, 4, [{ metadata: { name: 'new' } }], 'n1'), { addresses: [], withoutAddress: ['new'] }, 'a Node with no status yet');
});
