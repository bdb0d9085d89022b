// Fuzz: random and mutated byte strings (bit flips, byte rewrites, truncations, extensions of
// valid adverts) through decodeAdvert and VrrpRouter.receive. Nothing may throw; every rejection
// must carry a known reason and be counted; whatever is accepted must re-encode to its bytes.
// The PRNG is seeded: a failure names the seed and case to replay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DROP_REASONS, type DropReason } from '../../../src/vrrp/drop-reason.ts';
import { decodeAdvert, encodeAdvert, type Advert, type PacketContext } from '../../../src/vrrp/packet.ts';
import { VrrpRouter, type RouterConfig } from '../../../src/vrrp/router.ts';
import { config, hex } from './helpers.ts';
import { Prng } from './prng.ts';

const SEED = Number(process.env.VRRP_FUZZ_SEED ?? 0xf0221);
const CASES = Number(process.env.VRRP_FUZZ_CASES ?? 20_000);
const known = new Set<string>(DROP_REASONS);

const setups: { name: string; cfg: RouterConfig; ctx: PacketContext }[] = [
  {
    name: 'v3 IPv4',
    cfg: config({ virtualIPs: ['198.18.0.100', '198.18.0.101'] }),
    ctx: { family: 4, src: '198.18.0.2', dst: '224.0.0.18' },
  },
  {
    name: 'v3 IPv6',
    cfg: config({ family: 6, localAddress: 'fe80::1', virtualIPs: ['2001:db8::100'] }),
    ctx: { family: 6, src: 'fe80::2', dst: 'ff02::12' },
  },
  {
    name: 'v2 IPv4 password',
    cfg: config({ version: 2, authPassword: 'secret', virtualIPs: ['198.18.0.100'] }),
    ctx: { family: 4, src: '198.18.0.2', dst: '224.0.0.18' },
  },
];

function validAdvert(cfg: RouterConfig, rng: Prng): Advert {
  const a: Advert = {
    version: cfg.version,
    vrid: rng.bool(0.8) ? cfg.vrid : rng.int(1, 255),
    priority: rng.int(0, 255),
    intervalCs: cfg.version === 3 ? rng.int(1, 4095) : cfg.advertIntervalCs,
    addresses: rng.bool(0.8) ? cfg.virtualIPs : cfg.virtualIPs.slice(0, 1),
  };
  if (cfg.version === 2) {
    a.authType = 1;
    a.authData = Uint8Array.from([...Buffer.from(rng.bool(0.8) ? 'secret' : 'guess'), 0, 0, 0].slice(0, 8));
  }
  return a;
}

function mutate(base: Uint8Array, rng: Prng): Uint8Array {
  const kind = rng.int(0, 6);
  switch (kind) {
    case 0: {
      const out = Uint8Array.from(base);
      const flips = rng.int(1, 4);
      for (let k = 0; k < flips && out.length > 0; k++) {
        const bit = rng.int(0, out.length * 8 - 1);
        out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      }
      return out;
    }
    case 1: {
      const out = Uint8Array.from(base);
      if (out.length > 0) out[rng.int(0, out.length - 1)] = rng.int(0, 255);
      return out;
    }
    case 2:
      return base.subarray(0, rng.int(0, Math.max(0, base.length - 1)));
    case 3:
      return Uint8Array.from([...base, ...rng.bytes(rng.int(1, 40))]);
    case 4:
      return rng.bytes(rng.int(0, 80));
    case 5: {
      // A plausible header over random contents: reaches the deeper checks more often.
      const out = rng.bytes(rng.pick([8, 12, 20, 24, 28, 40, 56]));
      out[0] = rng.pick([0x21, 0x31, 0x31, 0x32, 0x41]);
      out[3] = rng.int(0, 4);
      return out;
    }
    default:
      return base;
  }
}

describe(`fuzz (seed ${SEED}, ${CASES} cases per setup; replay with VRRP_FUZZ_SEED)`, () => {
  for (const [si, { name, cfg, ctx }] of setups.entries()) {
    it(`${name}: decodeAdvert and VrrpRouter.receive never throw and always name a reason`, () => {
      const rng = new Prng(SEED + si);
      const router = new VrrpRouter(cfg);
      let now = 0;
      router.start(now);
      const reasons = new Map<DropReason, number>();
      let accepted = 0;
      let expectedDrops = 0;
      for (let i = 0; i < CASES; i++) {
        const base = encodeAdvert(validAdvert(cfg, rng), ctx);
        const bytes = mutate(base, rng);
        const meta = { src: ctx.src, dst: ctx.dst, ttl: rng.bool(0.95) ? 255 : rng.int(0, 254) };
        const where = `seed ${SEED + si} case ${i}: ${hex(bytes)}`;
        let result;
        try {
          result = decodeAdvert(bytes, ctx);
        } catch (e) {
          assert.fail(`decodeAdvert threw (${String(e)}) on ${where}`);
        }
        if (result.ok) {
          accepted++;
          // v3's 4 reserved bits are ignored on receipt and sent as zero: compare without them.
          const reencoded = encodeAdvert(result.advert, ctx);
          assert.deepEqual(decodeAdvert(reencoded, ctx), result, `re-encoding changes the advert: ${where}`);
          if (result.advert.version === 2 || ((bytes[4] ?? 0) & 0xf0) === 0) {
            assert.equal(hex(reencoded), hex(bytes), `accepted but does not re-encode: ${where}`);
          }
        } else {
          assert.ok(known.has(result.reason), `unknown reason ${result.reason}: ${where}`);
          reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
        }
        const before = { ...router.stats, drops: { ...router.stats.drops } };
        try {
          router.receive(bytes, meta, now);
          router.timeout(now);
          for (let a = router.pollAction(); a !== undefined; a = router.pollAction()) {
            /* drained */
          }
        } catch (e) {
          assert.fail(`router threw (${String(e)}) on ${where}`);
        }
        const dropped = DROP_REASONS.filter((r) => router.stats.drops[r] !== before.drops[r]);
        const received = router.stats.advertsReceived - before.advertsReceived;
        // Exactly one outcome per packet: one counted drop, or one received advert.
        assert.equal(dropped.length + received, 1, `not counted exactly once: ${where}`);
        if (!result.ok && meta.ttl === 255) {
          // The router sees at least what the codec sees (it may also see instance mismatches).
          assert.equal(received, 0, `router accepted what the codec rejected: ${where}`);
          expectedDrops++;
        }
        now += rng.int(1, 400);
        if (router.state === 'Initialize') router.start(now);
      }
      const total = DROP_REASONS.reduce((n, r) => n + router.stats.drops[r], 0);
      assert.equal(total + router.stats.advertsReceived, CASES);
      assert.ok(accepted > CASES * 0.05, `too few valid packets reach the deep checks (${accepted})`);
      assert.ok(expectedDrops > CASES * 0.3, 'too few rejections: the mutations are not biting');
      // Print the distribution so a change in it is visible in the test output.
      console.log(`${name}: accepted ${accepted}/${CASES}; codec drops ${JSON.stringify(Object.fromEntries(reasons))}`);
      console.log(`${name}: router drops ${JSON.stringify(Object.fromEntries(Object.entries(router.stats.drops).filter(([, n]) => n > 0)))}`);
    });
  }

  it('odd inputs: empty, huge, and typed-array views with offsets', () => {
    const ctx: PacketContext = { family: 4, src: '198.18.0.2', dst: '224.0.0.18' };
    assert.equal(decodeAdvert(new Uint8Array(), ctx).ok, false);
    assert.equal(decodeAdvert(new Uint8Array(70_000), ctx).ok, false);
    const valid = encodeAdvert({ version: 3, vrid: 51, priority: 100, intervalCs: 100, addresses: ['198.18.0.100'] }, ctx);
    const padded = new Uint8Array(valid.length + 10);
    padded.set(valid, 5);
    assert.equal(decodeAdvert(padded.subarray(5, 5 + valid.length), ctx).ok, true);
    const router = new VrrpRouter(config());
    router.start(0);
    router.receive(new Uint8Array(70_000), { src: '198.18.0.2', dst: '224.0.0.18', ttl: 255 }, 1);
    router.receive(valid, { src: '', dst: '', ttl: Number.NaN }, 2);
    assert.equal(router.stats.drops.version, 1); // 70000 zero bytes: version nibble 0
    assert.equal(router.stats.drops.family, 1); // no usable source address
    assert.equal(router.stats.advertsReceived, 0);
  });
});
