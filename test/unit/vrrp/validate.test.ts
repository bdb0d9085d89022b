// Receive validation against an instance (RFC 5798 §7.1, RFC 3768 §7.1): every drop reason from
// a crafted packet, and the accept paths the RFCs carve out (address owner's mismatched list).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DROP_REASONS, type DropReason } from '../../../src/vrrp/drop-reason.ts';
import { encodeAdvert, passwordAuthData, type Advert } from '../../../src/vrrp/packet.ts';
import { VrrpRouter } from '../../../src/vrrp/router.ts';
import { createValidator, validateAdvert, type ReceiveMeta, type ValidationPolicy } from '../../../src/vrrp/validate.ts';
import { config, expectedV2Checksum } from './helpers.ts';

const v3Policy: ValidationPolicy = {
  version: 3,
  family: 4,
  vrid: 51,
  addresses: ['198.18.0.100', '198.18.0.101'],
  advertIntervalCs: 100,
  authType: 0,
  addressOwner: false,
  localAddress: '198.18.0.1',
  unicastPeers: [],
};
const v2Policy: ValidationPolicy = {
  ...v3Policy,
  version: 2,
  authType: 1,
  authData: passwordAuthData('secret'),
};
const peer: ReceiveMeta = { src: '198.18.0.2', dst: '224.0.0.18', ttl: 255 };

function advert(overrides: Partial<Advert> = {}, policy = v3Policy): Advert {
  const a: Advert = {
    version: policy.version,
    vrid: 51,
    priority: 100,
    intervalCs: 100,
    addresses: ['198.18.0.100', '198.18.0.101'],
    ...overrides,
  };
  if (a.version === 2 && a.authType === undefined) {
    a.authType = 1;
    a.authData = passwordAuthData('secret');
  }
  return a;
}

function bytes(a: Advert, meta: ReceiveMeta = peer, family: 4 | 6 = 4): Uint8Array {
  return encodeAdvert(a, { family, src: meta.src, dst: meta.dst });
}

const seen = new Set<DropReason>();
function expectDrop(policy: ValidationPolicy, b: Uint8Array, meta: ReceiveMeta, want: DropReason): void {
  const r = validateAdvert(b, meta, policy);
  assert.deepEqual(r, { ok: false, reason: want });
  seen.add(want);
}

describe('validateAdvert', () => {
  it('accepts a matching v3 advert in any address order, reporting the canonical source', () => {
    const meta = { ...peer, src: '198.18.0.2' };
    const r = validateAdvert(bytes(advert({ addresses: ['198.18.0.101', '198.18.0.100'] })), meta, v3Policy);
    assert.ok(r.ok);
    assert.equal(r.src, '198.18.0.2');
    assert.equal(r.addressListMismatch, false);
    assert.equal(r.advert.priority, 100);
  });

  it('ttl: multicast adverts must have TTL / hop limit 255', () => {
    expectDrop(v3Policy, bytes(advert()), { ...peer, ttl: 254 }, 'ttl');
    expectDrop(v3Policy, bytes(advert()), { ...peer, ttl: 1 }, 'ttl');
  });

  it('ttl is not checked for unicast peers (they may be routed, as keepalived allows)', () => {
    const policy = { ...v3Policy, unicastPeers: ['198.18.0.2'] };
    const meta = { src: '198.18.0.2', dst: '198.18.0.1', ttl: 62 };
    assert.equal(validateAdvert(bytes(advert(), meta), meta, policy).ok, true);
  });

  it('version: the other version is reported as such, even if it would not parse', () => {
    expectDrop(v3Policy, bytes(advert({ version: 2, authType: 0 })), peer, 'version');
    expectDrop(v2Policy, bytes(advert({ version: 3 })), peer, 'version');
    expectDrop(v3Policy, Uint8Array.from([0x21, 51]), peer, 'version');
    expectDrop(v3Policy, Uint8Array.from([0x41, 51, 100, 1, 0, 100, 0, 0, 1, 2, 3, 4]), peer, 'version');
  });

  it('decode-level reasons pass through: truncated, length, type, checksum, auth-type, interval', () => {
    const good = bytes(advert());
    expectDrop(v3Policy, good.subarray(0, 10), peer, 'truncated');
    const longer = Uint8Array.from([...good, 0, 0, 0, 0]);
    longer[6] = 0;
    longer[7] = 0; // the length check comes before the checksum
    expectDrop(v3Policy, longer, peer, 'length');
    const typed = Uint8Array.from(good);
    typed[0] = 0x32;
    expectDrop(v3Policy, typed, peer, 'type');
    const flipped = Uint8Array.from(good);
    flipped[2] = 101;
    expectDrop(v3Policy, flipped, peer, 'checksum');
    expectDrop(v3Policy, good, { ...peer, dst: '198.18.0.1' }, 'checksum');
    const ah = bytes(advert({ authType: 0 }, v2Policy));
    ah[4] = 2;
    const sum = expectedV2Checksum(ah);
    ah[6] = sum >> 8;
    ah[7] = sum & 0xff;
    expectDrop(v2Policy, ah, peer, 'auth-type');
  });

  it('family: source or destination of the other family', () => {
    expectDrop(v3Policy, bytes(advert()), { ...peer, src: 'fe80::2' }, 'family');
    expectDrop(v3Policy, bytes(advert()), { ...peer, dst: 'ff02::12' }, 'family');
    expectDrop(v3Policy, bytes(advert()), { ...peer, src: 'not an address' }, 'family');
  });

  it('vrid: another virtual router', () => {
    expectDrop(v3Policy, bytes(advert({ vrid: 52 })), peer, 'vrid');
  });

  it('own-address: an advert from our own source address', () => {
    const meta = { ...peer, src: '198.18.0.1' };
    expectDrop(v3Policy, bytes(advert(), meta), meta, 'own-address');
  });

  it('unknown-peer: unicast adverts from outside the peer list', () => {
    const policy = { ...v3Policy, unicastPeers: ['198.18.0.2', '198.18.0.3'] };
    const meta = { src: '198.18.0.9', dst: '198.18.0.1', ttl: 255 };
    expectDrop(policy, bytes(advert(), meta), meta, 'unknown-peer');
    const ok = { ...meta, src: '198.18.0.3' };
    assert.equal(validateAdvert(bytes(advert(), ok), ok, policy).ok, true);
  });

  it('v2 auth-type: none received while we use a password, and the reverse', () => {
    expectDrop(v2Policy, bytes(advert({ authType: 0 }, v2Policy)), peer, 'auth-type');
    const noAuth = { ...v2Policy, authType: 0 as const, authData: undefined };
    expectDrop(noAuth, bytes(advert({}, v2Policy)), peer, 'auth-type');
  });

  it('v2 auth: wrong password; right one accepted', () => {
    expectDrop(v2Policy, bytes(advert({ authType: 1, authData: passwordAuthData('secreT') }, v2Policy)), peer, 'auth');
    expectDrop(v2Policy, bytes(advert({ authType: 1, authData: passwordAuthData('secret1') }, v2Policy)), peer, 'auth');
    assert.equal(validateAdvert(bytes(advert({}, v2Policy)), peer, v2Policy).ok, true);
  });

  it('v2 interval: must equal ours (RFC 3768 §7.1); v3 intervals differ freely', () => {
    expectDrop(v2Policy, bytes(advert({ intervalCs: 200 }, v2Policy)), peer, 'interval');
    assert.equal(validateAdvert(bytes(advert({ intervalCs: 37 })), peer, v3Policy).ok, true);
  });

  it('address-count and address-list: dropped unless the sender is the address owner', () => {
    expectDrop(v3Policy, bytes(advert({ addresses: ['198.18.0.100'] })), peer, 'address-count');
    expectDrop(v3Policy, bytes(advert({ addresses: ['198.18.0.100', '198.18.0.102'] })), peer, 'address-list');
    expectDrop(v3Policy, bytes(advert({ addresses: ['198.18.0.100', '198.18.0.100'] })), peer, 'address-list');
    const fromOwner = validateAdvert(bytes(advert({ priority: 255, addresses: ['198.18.0.9'] })), peer, v3Policy);
    assert.ok(fromOwner.ok);
    assert.equal(fromOwner.addressListMismatch, true);
  });

  it('owner-conflict: a priority-255 advert while we are the address owner', () => {
    const owner = { ...v3Policy, addressOwner: true };
    expectDrop(owner, bytes(advert({ priority: 255 })), peer, 'owner-conflict');
    assert.equal(validateAdvert(bytes(advert({ priority: 100 })), peer, owner).ok, true);
    assert.equal(validateAdvert(bytes(advert({ priority: 0 })), peer, owner).ok, true);
  });

  it('IPv6 v3: link-local source, hop limit 255', () => {
    const policy: ValidationPolicy = { ...v3Policy, family: 6, addresses: ['2001:db8::100'], localAddress: 'fe80::1' };
    const meta = { src: 'fe80::2', dst: 'ff02::12', ttl: 255 };
    const b = encodeAdvert(advert({ addresses: ['2001:db8:0::100'] }), { family: 6, src: meta.src, dst: meta.dst });
    assert.equal(validateAdvert(b, meta, policy).ok, true);
    expectDrop(policy, b, { ...meta, ttl: 64 }, 'ttl');
  });

  it('createValidator refuses an unusable policy', () => {
    assert.throws(() => createValidator({ ...v3Policy, localAddress: 'fe80::1' }), RangeError);
    assert.throws(() => createValidator({ ...v3Policy, addresses: ['198.18.0.1/24'] }), RangeError);
  });

  it('not-running: a router before start() drops and counts', () => {
    const router = new VrrpRouter(config({ virtualIPs: ['198.18.0.100', '198.18.0.101'] }));
    router.receive(bytes(advert()), peer, 0);
    assert.equal(router.stats.drops['not-running'], 1);
    seen.add('not-running');
  });

  it('every DropReason has been produced above', () => {
    assert.deepEqual([...DROP_REASONS].filter((r) => !seen.has(r)), []);
  });
});
