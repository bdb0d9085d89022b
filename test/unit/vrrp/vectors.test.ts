// Golden vectors captured from real keepalived (test/vectors/*.json, written by another part of
// the project's test tooling; read only here). Each must decode to the fields decoded
// independently at capture time, re-encode to the same bytes, and pass a router's validation
// when the router is configured like the capture's peer.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeAdvert, encodeAdvert } from '../../../src/vrrp/packet.ts';
import { VrrpRouter } from '../../../src/vrrp/router.ts';
import { config, fromHex, hex } from './helpers.ts';

interface Vector {
  name: string;
  family: 4 | 6;
  version: 2 | 3;
  src: string;
  dst: string;
  ttl?: number;
  hex: string;
  expect?: {
    vrid: number;
    priority: number;
    count: number;
    /** Centiseconds (v3) or seconds (v2), as on the wire. */
    advertInt: number;
    addresses: string[];
    checksum: number;
    authType?: number;
    authData?: string;
  };
}

const dir = join(import.meta.dirname, '../../vectors');
let files: string[] = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
} catch {
  files = [];
}

describe('keepalived capture vectors (test/vectors)', () => {
  it('the captures are there', () => {
    assert.ok(files.length >= 10, `expected the keepalived captures in test/vectors, found ${files.length}`);
  });
  for (const file of files) {
    const v = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Vector;
    it(`${file}: decodes, re-encodes byte for byte, and validates`, () => {
      const bytes = fromHex(v.hex);
      const ctx = { family: v.family, src: v.src, dst: v.dst };
      const decoded = decodeAdvert(bytes, ctx);
      assert.ok(decoded.ok, `${file}: ${JSON.stringify(decoded)}`);
      const a = decoded.advert;
      assert.equal(a.version, v.version);
      if (v.expect !== undefined) {
        assert.equal(a.vrid, v.expect.vrid);
        assert.equal(a.priority, v.expect.priority);
        assert.equal(a.addresses.length, v.expect.count);
        assert.deepEqual(a.addresses, v.expect.addresses);
        assert.equal(a.intervalCs, v.version === 3 ? v.expect.advertInt : v.expect.advertInt * 100);
        assert.equal(((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0), v.expect.checksum);
        if (v.expect.authType !== undefined) assert.equal(a.authType, v.expect.authType);
        if (v.expect.authData !== undefined) assert.equal(hex(a.authData ?? new Uint8Array()), v.expect.authData.toLowerCase());
      }
      assert.equal(hex(encodeAdvert(a, ctx)), hex(bytes));

      // A kubelived router configured as the capture's peer accepts it.
      const localAddress = v.family === 4 ? '198.18.0.250' : 'fe80::fa';
      const password = a.authType === 1 && a.authData !== undefined ? Buffer.from(a.authData).toString('utf8').replace(/\0+$/, '') : undefined;
      const router = new VrrpRouter(
        config({
          vrid: a.vrid,
          version: a.version,
          family: v.family,
          virtualIPs: a.addresses,
          advertIntervalCs: a.intervalCs,
          localAddress,
          ...(password !== undefined ? { authPassword: password } : {}),
        }),
      );
      router.start(0);
      router.receive(bytes, { src: v.src, dst: v.dst, ttl: v.ttl ?? 255 }, 10);
      assert.equal(router.stats.advertsReceived, 1, JSON.stringify(router.stats.drops));
      assert.equal(router.stats.priorityZeroReceived, a.priority === 0 ? 1 : 0);
    });
  }
});
