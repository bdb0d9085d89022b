// The two deliberate improvements over keepalived (shared/LAB-NOTES.md, "Two keepalived
// weaknesses"): after a partition heals, whichever advert crosses first, the surviving master
// re-announces its VIPs at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAdvert } from '../../../src/vrrp/packet.ts';
import { VrrpRouter, type Action } from '../../../src/vrrp/router.ts';
import { config, drain, hear, kinds, sends, sentPriority, transitions } from './helpers.ts';
import { Simulator } from './sim.ts';

function masterRouter(priority: number, localAddress: string): VrrpRouter {
  const router = new VrrpRouter(config({ priority, localAddress }));
  router.start(0);
  router.timeout(router.nextTimeout() ?? NaN);
  drain(router);
  return router;
}

describe('a) a Master hearing a lower-priority advert asserts itself at once', () => {
  it('sends its own advert and announces its VIPs, staying Master', () => {
    const router = masterRouter(150, '198.18.0.1');
    const at = 10_000;
    hear(router, '198.18.0.2', 100, at);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['send', 'announce']);
    assert.equal(sentPriority(actions[0] ?? { kind: 'addVips', addresses: [] }), 150);
    assert.deepEqual(actions[1], { kind: 'announce', addresses: ['198.18.0.100'], repeat: 5 });
    assert.equal(router.nextTimeout(), at + 1000);
    assert.equal(router.state, 'Master');
  });
});

describe('b) a Master yielding to a higher-priority advert sends one advert of its own first', () => {
  it('transition, advert at its current priority, removeVips; then Backup with the winner\'s interval', () => {
    const router = masterRouter(100, '198.18.0.1');
    hear(router, '198.18.0.2', 150, 8000, { intervalCs: 50 });
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Master->Backup', 'send', 'removeVips']);
    assert.equal(transitions(actions)[0]?.reason, 'higher priority advert from 198.18.0.2 (150)');
    assert.equal(transitions(actions)[0]?.masterIP, '198.18.0.2');
    const send = sends(actions)[0];
    assert.ok(send !== undefined);
    const decoded = decodeAdvert(send.bytes, { family: 4, src: send.src, dst: '224.0.0.18' });
    assert.ok(decoded.ok);
    assert.equal(decoded.advert.priority, 100); // its own priority, not 0: the winner must not stay silent
    assert.equal(router.state, 'Backup');
    assert.equal(router.masterIP, '198.18.0.2');
    assert.equal(router.nextTimeout(), 8000 + 1500 + (156 * 500) / 256);
    // Going quiet: nothing more until the timer.
    hear(router, '198.18.0.2', 150, 8400, { intervalCs: 50 });
    assert.deepEqual(drain(router), []);
  });
});

describe('partition heal between two masters, both crossing orders', () => {
  // A (150) and B (100) both became master while split. After the heal, which advert crosses
  // first decides what happens (LAB-NOTES: keepalived leaves clients on B's MAC in the second
  // order). Packets are handed over explicitly here so each order is forced.
  function pair(): { a: VrrpRouter; b: VrrpRouter } {
    return { a: masterRouter(150, '198.18.0.1'), b: masterRouter(100, '198.18.0.2') };
  }
  /** Delivers the adverts in `actions` (sent by one router) to `to`; returns to's actions. */
  function deliver(actions: readonly Action[], to: VrrpRouter, now: number): Action[] {
    for (const s of sends(actions)) to.receive(s.bytes, { src: s.src, dst: s.to[0] ?? '', ttl: 255 }, now);
    return drain(to);
  }

  it('A hears B first: A re-announces at once; B yields on A\'s answer', () => {
    const { a, b } = pair();
    b.timeout(b.nextTimeout() ?? NaN);
    const fromA = deliver(drain(b), a, 5000);
    assert.deepEqual(kinds(fromA), ['send', 'announce']);
    const fromB = deliver(fromA, b, 5001);
    assert.deepEqual(kinds(fromB), ['transition:Master->Backup', 'send', 'removeVips']);
    assert.equal(a.state, 'Master');
    assert.equal(b.state, 'Backup');
  });

  it('B hears A first: B yields with one advert of its own, which makes A re-announce', () => {
    const { a, b } = pair();
    a.timeout(a.nextTimeout() ?? NaN);
    const fromB = deliver(drain(a), b, 5000);
    assert.deepEqual(kinds(fromB), ['transition:Master->Backup', 'send', 'removeVips']);
    const fromA = deliver(fromB, a, 5001);
    // keepalived's B would have yielded silently and A would never have known: no announce.
    assert.deepEqual(kinds(fromA), ['send', 'announce']);
    assert.equal(a.state, 'Master');
    assert.equal(b.state, 'Backup');
    // B, now Backup, stays quiet on A's answer.
    assert.deepEqual(deliver(fromA, b, 5002), []);
  });

  it('in a simulation with 100 ms adverts, the survivor re-announces within an interval of every heal', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const a = config({ name: 'a', priority: 150, localAddress: '198.18.0.1', advertIntervalCs: 10 });
      const b = config({ name: 'b', priority: 100, localAddress: '198.18.0.2', advertIntervalCs: 10 });
      const sim = new Simulator([a, b], { seed, minDelayMs: 0.1, maxDelayMs: 5 });
      sim.start(0);
      sim.start(1);
      sim.runUntil(1000);
      sim.partition([[0], [1]]);
      sim.runUntil(2000 + seed * 7.3); // heal at varied points of the advert cycles
      assert.equal(sim.state(1), 'Master');
      const healAt = sim.now;
      sim.heal();
      sim.runUntil(healAt + 1000);
      assert.equal(sim.state(0), 'Master');
      assert.equal(sim.state(1), 'Backup');
      const announce = sim.recordsSince(healAt, 0).find((r) => r.action.kind === 'announce');
      assert.ok(announce !== undefined, `seed ${seed}: no re-announce`);
      const bound = 100 + sim.delay(0, 1) + sim.delay(1, 0);
      assert.ok(announce.at - healAt <= bound, `seed ${seed}: re-announce ${announce.at - healAt} ms after the heal (bound ${bound})`);
    }
  });
});
