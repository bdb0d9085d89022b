import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  destinationKeyString, drainKeyString, parseServiceKeyString, sameServiceKey, serviceKeyString,
} from '../../../src/ipvs/keys.ts';
import type { ServiceKey } from '../../../src/ipvs/types.ts';

const CASES: [ServiceKey, string][] = [
  [{ family: 4, protocol: 'TCP', address: '198.18.0.100', port: 80 }, 'TCP 198.18.0.100:80'],
  [{ family: 4, protocol: 'UDP', address: '10.0.0.1', port: 53 }, 'UDP 10.0.0.1:53'],
  [{ family: 4, protocol: 'SCTP', address: '10.0.0.1', port: 3868 }, 'SCTP 10.0.0.1:3868'],
  [{ family: 6, protocol: 'TCP', address: '2001:db8::1', port: 443 }, 'TCP [2001:db8::1]:443'],
  [{ family: 6, protocol: 'UDP', address: '::ffff:198.18.0.1', port: 1 }, 'UDP [::ffff:c612:1]:1'],
  [{ family: 4, fwmark: 7 }, 'FWM 7 IPv4'],
  [{ family: 6, fwmark: 4294967295 }, 'FWM 4294967295 IPv6'],
];

test('service key strings as ipvsadm prints them, and back', () => {
  for (const [key, text] of CASES) {
    assert.equal(serviceKeyString(key), text);
    const back = parseServiceKeyString(text);
    assert.ok(back, text);
    assert.equal(serviceKeyString(back), text);
  }
});

test('two spellings of one address give one key', () => {
  const a: ServiceKey = { family: 6, protocol: 'TCP', address: '2001:DB8:0:0::1', port: 80 };
  const b: ServiceKey = { family: 6, protocol: 'TCP', address: '2001:db8::1', port: 80 };
  assert.equal(serviceKeyString(a), 'TCP [2001:db8::1]:80');
  assert.ok(sameServiceKey(a, b));
  assert.ok(!sameServiceKey(b, { ...b, protocol: 'UDP' }));
  assert.ok(!sameServiceKey({ family: 4, fwmark: 1 }, { family: 6, fwmark: 1 }));
});

test('parseServiceKeyString refuses what serviceKeyString never produces', () => {
  for (const bad of [
    '', 'TCP 198.18.0.100', 'tcp 198.18.0.100:80', 'TCP 198.18.0.100:65536', 'TCP [198.18.0.100]:80',
    'TCP 2001:db8::1:80', 'TCP [2001:DB8::1]:80', 'TCP [2001:db8:0::1]:80', 'ICMP 1.2.3.4:0', 'FWM 0 IPv4',
    'FWM 4294967296 IPv4', 'FWM 7 IPv5', 'FWM 7', 'FWM 07 IPv4', ' TCP 1.2.3.4:80', 'TCP 1.2.3.4:080', 'TCP 01.2.3.4:80',
  ]) {
    assert.equal(parseServiceKeyString(bad), undefined, bad);
  }
});

test('destination and drain keys', () => {
  assert.equal(destinationKeyString({ address: '10.0.0.1', port: 8080 }), '10.0.0.1:8080');
  assert.equal(destinationKeyString({ address: '2001:db8:0::a', port: 0 }), '[2001:db8::a]:0');
  assert.equal(drainKeyString({ family: 4, fwmark: 3 }, { address: '10.0.0.1', port: 0 }), 'FWM 3 IPv4 -> 10.0.0.1:0');
});
