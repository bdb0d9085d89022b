// Codec: golden bytes from the lab's keepalived captures, round trips over many field values in
// every version x family, checksums verified by an independent implementation, and every
// decode-level drop reason from a crafted packet.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advertLength,
  decodeAdvert,
  encodeAdvert,
  passwordAuthData,
  peekVrid,
  type Advert,
  type PacketContext,
} from '../../../src/vrrp/packet.ts';
import { expectedV2Checksum, expectedV3Checksum, fromHex, hex } from './helpers.ts';
import { Prng } from './prng.ts';

const v4mc: PacketContext = { family: 4, src: '198.18.0.1', dst: '224.0.0.18' };
const v6mc: PacketContext = { family: 6, src: 'fe80::1', dst: 'ff02::12' };

function checksumField(bytes: Uint8Array): number {
  return ((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0);
}

/** Rewrites the checksum so a deliberately malformed field is the only thing wrong. */
function fixChecksum(bytes: Uint8Array, ctx: PacketContext): Uint8Array {
  const out = Uint8Array.from(bytes);
  const sum = (out[0] ?? 0) >> 4 === 2 ? expectedV2Checksum(out) : expectedV3Checksum(out, ctx.src, ctx.dst);
  out[6] = sum >> 8;
  out[7] = sum & 0xff;
  return out;
}

describe('golden bytes (shared/LAB-NOTES.md, keepalived 2.2.7)', () => {
  it('VRRPv2: 21 33 96 01 00 01 8253 c6120064 + 8 zero auth bytes, checksum over the message only', () => {
    const lab = fromHex('21 33 96 01 00 01 8253 c6120064 0000000000000000');
    // The note omits the auth bytes; with auth type 0 they are zero, and only zeros give 0x8253.
    assert.equal(expectedV2Checksum(lab), 0x8253);
    const decoded = decodeAdvert(lab, v4mc);
    assert.deepEqual(decoded, {
      ok: true,
      advert: {
        version: 2,
        vrid: 51,
        priority: 150,
        intervalCs: 100,
        addresses: ['198.18.0.100'],
        authType: 0,
        authData: new Uint8Array(8),
      },
    });
    const encoded = encodeAdvert({ version: 2, vrid: 51, priority: 150, intervalCs: 100, addresses: ['198.18.0.100'] }, v4mc);
    assert.equal(hex(encoded), hex(lab));
    // v2's checksum ignores the IP addresses entirely.
    assert.equal(decodeAdvert(lab, { family: 4, src: '10.9.8.7', dst: '10.1.1.1' }).ok, true);
  });

  it('VRRPv3: 31 33 96 01 0064 cb4d c6120064 with the pseudo-header checksum computed independently', () => {
    const lab = fromHex('31 33 96 01 0064 cb4d c6120064');
    const advert: Advert = { version: 3, vrid: 51, priority: 150, intervalCs: 100, addresses: ['198.18.0.100'] };
    // The note does not give the source. Every byte but the checksum is fixed by the fields;
    // the checksum is checked against an independent computation for a known source.
    for (const src of ['198.18.0.1', '198.18.0.2', '198.18.0.3']) {
      const ctx = { family: 4 as const, src, dst: '224.0.0.18' };
      const encoded = encodeAdvert(advert, ctx);
      assert.equal(hex(encoded.subarray(0, 6)), hex(lab.subarray(0, 6)));
      assert.equal(hex(encoded.subarray(8)), hex(lab.subarray(8)));
      assert.equal(checksumField(encoded), expectedV3Checksum(encoded, src, '224.0.0.18'));
      assert.deepEqual(decodeAdvert(encoded, ctx), { ok: true, advert });
    }
    // The lab's first node is 198.18.0.1 (the series' master, priority 150): with that source the
    // capture verifies to the byte.
    assert.equal(expectedV3Checksum(lab, '198.18.0.1', '224.0.0.18'), 0xcb4d);
    assert.equal(hex(encodeAdvert(advert, v4mc)), hex(lab));
    assert.deepEqual(decodeAdvert(lab, v4mc), { ok: true, advert });
    // Another source breaks the checksum: the pseudo-header is really covered.
    assert.deepEqual(decodeAdvert(lab, { family: 4, src: '198.18.0.2', dst: '224.0.0.18' }), { ok: false, reason: 'checksum' });
  });
});

describe('round trips', () => {
  const seed = 0x5eed0001;
  const combos = [
    { version: 3 as const, family: 4 as const },
    { version: 3 as const, family: 6 as const },
    { version: 2 as const, family: 4 as const },
  ];

  function randomAddress(rng: Prng, family: 4 | 6): string {
    const b = rng.bytes(family === 4 ? 4 : 16);
    return family === 4 ? Array.from(b).join('.') : Array.from({ length: 8 }, (_, i) => (((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0)).toString(16)).join(':');
  }

  for (const { version, family } of combos) {
    it(`v${version} IPv${family}: 500 random adverts decode to what was encoded (seed ${seed})`, () => {
      const rng = new Prng(seed + version * 10 + family);
      for (let i = 0; i < 500; i++) {
        const count = rng.pick([0, 1, 1, 2, 3, 8, 20, 255]);
        const addresses = Array.from({ length: count }, () => randomAddress(rng, family));
        const advert: Advert = {
          version,
          vrid: rng.int(1, 255),
          priority: rng.int(0, 255),
          intervalCs: version === 3 ? rng.int(1, 4095) : rng.int(1, 255) * 100,
          addresses,
        };
        if (version === 2) {
          advert.authType = rng.bool() ? 1 : 0;
          advert.authData = advert.authType === 1 ? passwordAuthData(rng.pick(['a', 'secret', '12345678', 'pässwd'])) : rng.bytes(8);
        }
        const ctx: PacketContext = {
          family,
          src: randomAddress(rng, family),
          dst: rng.bool() ? (family === 4 ? '224.0.0.18' : 'ff02::12') : randomAddress(rng, family),
        };
        const bytes = encodeAdvert(advert, ctx);
        assert.equal(bytes.length, advertLength(version, family, count));
        assert.equal(bytes[0], version === 3 ? 0x31 : 0x21);
        const want = version === 3 ? expectedV3Checksum(bytes, ctx.src, ctx.dst) : expectedV2Checksum(bytes);
        assert.equal(checksumField(bytes), want, `checksum, case ${i}`);
        const decoded = decodeAdvert(bytes, ctx);
        assert.ok(decoded.ok, `case ${i}: ${JSON.stringify(decoded)}`);
        // Addresses come back canonical; compare through a second encode.
        assert.equal(hex(encodeAdvert(decoded.advert, ctx)), hex(bytes), `re-encode, case ${i}`);
        assert.equal(decoded.advert.vrid, advert.vrid);
        assert.equal(decoded.advert.priority, advert.priority);
        assert.equal(decoded.advert.intervalCs, advert.intervalCs);
        assert.equal(decoded.advert.addresses.length, count);
      }
    });
  }

  it('decoded addresses are canonical text', () => {
    const ctx = v6mc;
    const bytes = encodeAdvert({ version: 3, vrid: 7, priority: 100, intervalCs: 100, addresses: ['2001:DB8:0:0:0:0:0:1', 'fd00:0::a'] }, ctx);
    const decoded = decodeAdvert(bytes, ctx);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.advert.addresses, ['2001:db8::1', 'fd00::a']);
  });

  it('v2 simple password: NUL-padded to 8 bytes, auth type 1', () => {
    const bytes = encodeAdvert(
      { version: 2, vrid: 9, priority: 100, intervalCs: 300, addresses: ['10.0.0.9'], authType: 1, authData: passwordAuthData('secret') },
      v4mc,
    );
    assert.equal(hex(bytes.subarray(4, 6)), '0103');
    assert.equal(hex(bytes.subarray(12)), hex(Uint8Array.from([...Buffer.from('secret'), 0, 0])));
    const decoded = decodeAdvert(bytes, v4mc);
    assert.ok(decoded.ok);
    assert.equal(decoded.advert.authType, 1);
    assert.equal(hex(decoded.advert.authData ?? new Uint8Array()), hex(passwordAuthData('secret')));
    assert.throws(() => passwordAuthData('123456789'), RangeError);
    assert.throws(() => passwordAuthData(''), RangeError);
    assert.throws(() => passwordAuthData('ééééé'), RangeError); // 10 bytes of UTF-8
  });

  it('v3 reserved bits are ignored on receipt and zero on transmission', () => {
    const bytes = encodeAdvert({ version: 3, vrid: 1, priority: 100, intervalCs: 0x0fff, addresses: ['10.0.0.1'] }, v4mc);
    assert.equal(bytes[4], 0x0f);
    const withReserved = Uint8Array.from(bytes);
    withReserved[4] = 0xff;
    const decoded = decodeAdvert(fixChecksum(withReserved, v4mc), v4mc);
    assert.ok(decoded.ok);
    assert.equal(decoded.advert.intervalCs, 0x0fff);
  });

  it('peekVrid reads the VRID byte of anything long enough', () => {
    assert.equal(peekVrid(fromHex('31 33 96 01')), 0x33);
    assert.equal(peekVrid(new Uint8Array([0x31])), undefined);
    assert.equal(peekVrid(new Uint8Array()), undefined);
  });
});

describe('encode refuses what cannot go on the wire', () => {
  const ok: Advert = { version: 3, vrid: 1, priority: 100, intervalCs: 100, addresses: ['10.0.0.1'] };
  const cases: [string, Advert, PacketContext][] = [
    ['VRID 0', { ...ok, vrid: 0 }, v4mc],
    ['VRID 256', { ...ok, vrid: 256 }, v4mc],
    ['priority 256', { ...ok, priority: 256 }, v4mc],
    ['priority 1.5', { ...ok, priority: 1.5 }, v4mc],
    ['v3 interval 0', { ...ok, intervalCs: 0 }, v4mc],
    ['v3 interval 4096', { ...ok, intervalCs: 4096 }, v4mc],
    ['v2 interval not whole seconds', { ...ok, version: 2, intervalCs: 150 }, v4mc],
    ['v2 interval 256 s', { ...ok, version: 2, intervalCs: 25600 }, v4mc],
    ['v2 over IPv6', { ...ok, version: 2, addresses: ['2001:db8::1'] }, v6mc],
    ['IPv6 address in an IPv4 advert', { ...ok, addresses: ['2001:db8::1'] }, v4mc],
    ['address with prefix', { ...ok, addresses: ['10.0.0.1/24'] }, v4mc],
    ['256 addresses', { ...ok, addresses: Array.from({ length: 256 }, () => '10.0.0.1') }, v4mc],
    ['v3 without a valid source', ok, { family: 4, src: 'nope', dst: '224.0.0.18' }],
    ['v2 auth type 1 without data', { ...ok, version: 2, authType: 1 }, v4mc],
    ['v2 auth data of 9 bytes', { ...ok, version: 2, authType: 1, authData: new Uint8Array(9) }, v4mc],
  ];
  for (const [name, advert, ctx] of cases) {
    it(name, () => assert.throws(() => encodeAdvert(advert, ctx), RangeError));
  }
});

describe('decode drop reasons', () => {
  const v3 = encodeAdvert({ version: 3, vrid: 5, priority: 100, intervalCs: 100, addresses: ['10.0.0.1', '10.0.0.2'] }, v4mc);
  const v2 = encodeAdvert({ version: 2, vrid: 5, priority: 100, intervalCs: 100, addresses: ['10.0.0.1'] }, v4mc);

  function reason(bytes: Uint8Array, ctx: PacketContext = v4mc): string {
    const r = decodeAdvert(bytes, ctx);
    return r.ok ? 'ok' : r.reason;
  }
  function patched(base: Uint8Array, index: number, value: number, ctx: PacketContext = v4mc): Uint8Array {
    const out = Uint8Array.from(base);
    out[index] = value;
    return fixChecksum(out, ctx);
  }

  it('truncated: shorter than the header, or than the addresses / auth data announced', () => {
    assert.equal(reason(new Uint8Array()), 'truncated');
    assert.equal(reason(v3.subarray(0, 7)), 'truncated');
    assert.equal(reason(v3.subarray(0, v3.length - 1)), 'truncated');
    assert.equal(reason(patched(v3, 3, 3)), 'truncated'); // says 3 addresses, carries 2
    assert.equal(reason(v2.subarray(0, 12)), 'truncated'); // auth data missing
  });
  it('length: trailing bytes', () => {
    assert.equal(reason(fixChecksum(Uint8Array.from([...v3, 0, 0, 0, 0]), v4mc)), 'length');
    assert.equal(reason(patched(v3, 3, 1)), 'length'); // says 1 address, carries 2
  });
  it('version: neither 2 nor 3', () => {
    for (const b of [0x01, 0x11, 0x41, 0xf1]) assert.equal(reason(patched(v3, 0, b)), 'version');
  });
  it('type: not ADVERTISEMENT', () => {
    for (const b of [0x30, 0x32, 0x3f]) assert.equal(reason(patched(v3, 0, b)), 'type');
  });
  it('family: v2 over IPv6, or addresses not of the family', () => {
    assert.equal(reason(v2, v6mc), 'family');
    assert.equal(reason(v3, { family: 4, src: 'fe80::1', dst: '224.0.0.18' }), 'family');
    assert.equal(reason(v3, { family: 4, src: '198.18.0.1', dst: 'garbage' }), 'family');
    assert.equal(reason(v3, { family: 6, src: '198.18.0.1', dst: 'ff02::12' }), 'family');
  });
  it('checksum: one flipped bit anywhere, or the wrong destination in the pseudo-header', () => {
    for (let i = 0; i < v3.length * 8; i++) {
      const flipped = Uint8Array.from(v3);
      flipped[i >> 3] = (flipped[i >> 3] ?? 0) ^ (1 << (i & 7));
      const r = reason(flipped);
      // Flips in the version/type nibbles or the count are reported as what they break.
      if (i < 8 || (i >= 24 && i < 32)) assert.notEqual(r, 'ok');
      else assert.equal(r, 'checksum', `bit ${i}`);
    }
    assert.equal(reason(v3, { family: 4, src: '198.18.0.1', dst: '198.18.0.2' }), 'checksum');
    assert.equal(reason(patched(v2, 2, 99)), 'ok'); // a changed field with its checksum fixed is fine
    const badV2 = Uint8Array.from(v2);
    badV2[13] = 1; // auth data is covered by the v2 checksum
    assert.equal(reason(badV2), 'checksum');
  });
  it('auth-type: v2 type 2 (IP AH never arrives as protocol 112) and others', () => {
    for (const t of [2, 3, 255]) assert.equal(reason(patched(v2, 4, t)), 'auth-type');
  });
  it('interval: zero', () => {
    assert.equal(reason(patched(patched(v3, 4, 0), 5, 0)), 'interval');
    assert.equal(reason(patched(v2, 5, 0)), 'interval');
  });
  it('IPv6 v3 with a link-local source verifies with the IPv6 pseudo-header', () => {
    const ctx = { family: 6 as const, src: 'fe80::a8bb:ccff:fedd:eeff', dst: 'ff02::12' };
    const bytes = encodeAdvert({ version: 3, vrid: 5, priority: 100, intervalCs: 100, addresses: ['2001:db8::10'] }, ctx);
    assert.equal(checksumField(bytes), expectedV3Checksum(bytes, ctx.src, ctx.dst));
    assert.equal(reason(bytes, ctx), 'ok');
    assert.equal(reason(bytes, { ...ctx, src: 'fe80::1' }), 'checksum');
  });
});
