import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rehearse } from '../../../src/agent/rehearsal.ts';
import type { RouterConfig } from '../../../src/vrrp/router.ts';

const base: RouterConfig = {
  name: 'vi', vrid: 51, version: 3, family: 4, priority: 100, virtualIPs: ['198.18.0.100'],
  advertIntervalCs: 10, preempt: true, preemptDelayMs: 0, unicastPeers: [], localAddress: '198.18.0.11',
  tracks: [], garp: { repeat: 5, delayMs: 5000, refreshMs: 0 },
};

test('the rehearsal takes over, yields and shuts down, for every kind of instance', () => {
  const variants: [string, RouterConfig][] = [
    ['v3 multicast', base],
    ['v3 unicast', { ...base, unicastPeers: ['198.18.0.12'] }],
    ['v3 unicast alone (no peers yet)', { ...base, unicast: true, unicastPeers: [] }],
    ['v3 IPv6 unicast alone, from a global address', { ...base, family: 6, virtualIPs: ['2001:2::100'], localAddress: '2001:2::11', unicast: true, unicastPeers: [] }],
    ['v3 IPv6', { ...base, family: 6, virtualIPs: ['2001:2::100'], localAddress: 'fe80::6b:6cff:fe00:1' }],
    ['v2 with password', { ...base, version: 2, advertIntervalCs: 100, authPassword: 'secret' }],
    ['priority 254', { ...base, priority: 254 }],
  ];
  for (const [name, config] of variants) {
    assert.deepEqual(rehearse(config), ['Backup', 'Master', 'Backup', 'Initialize'], name);
  }
  // The address owner never yields; its rehearsal still covers takeover and shutdown.
  assert.deepEqual(rehearse({ ...base, priority: 255 }), ['Master', 'Initialize']);
});
