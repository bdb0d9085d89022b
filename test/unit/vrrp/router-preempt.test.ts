// Preemption as RFC 5798 §6.4.2 and keepalived define it: a Backup with preempt discards
// lower-priority adverts and takes over when its Master_Down_Timer expires; nopreempt never
// takes over from a live master; preempt delay (keepalived) holds the preemption back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VrrpRouter } from '../../../src/vrrp/router.ts';
import { masterDownIntervalMs } from '../../../src/vrrp/timers.ts';
import { config, drain, hear, kinds, sentPriority, transitions } from './helpers.ts';
import { Simulator } from './sim.ts';

/** A lower-priority master at 198.18.0.3 advertising every second from `from` ms on. */
function lowerMasterAdverts(router: VrrpRouter, from: number, until: number, priority = 100): void {
  for (let t = from; t < until; t += 1000) {
    router.timeout(t);
    hear(router, '198.18.0.3', priority, t);
  }
}

describe('preempt', () => {
  it('a higher-priority Backup discards a lower master\'s adverts and takes over at Master_Down_Interval', () => {
    const router = new VrrpRouter(config({ priority: 150, preempt: true }));
    router.start(0);
    drain(router);
    const mdi = masterDownIntervalMs(3, 150, 100); // 3414.0625
    lowerMasterAdverts(router, 500, mdi);
    assert.equal(router.state, 'Backup');
    assert.equal(router.masterIP, '198.18.0.3'); // the live master is still known
    assert.equal(router.nextTimeout(), mdi); // never reset by the lower adverts
    router.timeout(mdi);
    const t = transitions(drain(router));
    assert.equal(router.state, 'Master');
    assert.equal(t[0]?.reason, 'preempting lower priority master 198.18.0.3 (100)');
  });

  it('nopreempt: never takes over from a live lower-priority master', () => {
    const router = new VrrpRouter(config({ priority: 150, preempt: false }));
    router.start(0);
    drain(router);
    lowerMasterAdverts(router, 500, 120_000);
    assert.equal(router.state, 'Backup');
    assert.equal(router.nextTimeout(), 119_500 + masterDownIntervalMs(3, 150, 100));
    // ... but becomes master when that master goes away.
    router.timeout(119_500 + masterDownIntervalMs(3, 150, 100));
    assert.equal(router.state, 'Master');
    assert.equal(transitions(drain(router)).at(-1)?.reason, 'master-down timer expired');
  });

  it('preempt delay: lower adverts are accepted until the delay after the first one, then preemption runs', () => {
    const router = new VrrpRouter(config({ priority: 150, preempt: true, preemptDelayMs: 10_000 }));
    router.start(0);
    drain(router);
    // First lower advert at 500: the delay runs to 10500. Adverts before it reset the timer;
    // the one at 10500 and later are discarded; the timer set at 9500 expires.
    lowerMasterAdverts(router, 500, 12_600);
    assert.equal(router.state, 'Backup');
    const takeover = 9500 + masterDownIntervalMs(3, 150, 100);
    assert.equal(router.nextTimeout(), takeover);
    router.timeout(takeover);
    assert.equal(router.state, 'Master');
  });

  it('preempt delay: an advert we would not preempt cancels the running delay', () => {
    const router = new VrrpRouter(config({ priority: 150, preempt: true, preemptDelayMs: 5000 }));
    router.start(0);
    hear(router, '198.18.0.3', 100, 500); // delay runs to 5500
    hear(router, '198.18.0.4', 200, 4000); // a higher master: delay cancelled
    hear(router, '198.18.0.3', 100, 6000); // lower again: a new delay, to 11000
    assert.equal(router.nextTimeout(), 6000 + masterDownIntervalMs(3, 150, 100));
    hear(router, '198.18.0.3', 100, 10_999);
    assert.equal(router.nextTimeout(), 10_999 + masterDownIntervalMs(3, 150, 100));
    hear(router, '198.18.0.3', 100, 11_000);
    assert.equal(router.nextTimeout(), 10_999 + masterDownIntervalMs(3, 150, 100));
  });

  it('a Master yields to a higher priority whatever its own preempt setting', () => {
    const router = new VrrpRouter(config({ priority: 150, preempt: false }));
    router.start(0);
    router.timeout(router.nextTimeout() ?? NaN);
    drain(router);
    hear(router, '198.18.0.2', 151, 5000);
    assert.equal(router.state, 'Backup');
  });
});

describe('the seeds\' MySQL example (node1 100 nopreempt, track -20; node2 90 preempt)', () => {
  it('node1\'s check fails: node2 takes over; node1 recovers to 100 and does not preempt', () => {
    const node1 = config({ name: 'node1', priority: 100, preempt: false, localAddress: '198.18.0.1', tracks: [{ name: 'mysql', weight: -20 }] });
    const node2 = config({ name: 'node2', priority: 90, preempt: true, localAddress: '198.18.0.2' });
    const sim = new Simulator([node1, node2], { seed: 1, minDelayMs: 0.5, maxDelayMs: 0.5 });
    sim.start(0);
    sim.start(1);
    sim.runUntil(10_000);
    assert.equal(sim.state(0), 'Master'); // the shorter Master_Down_Interval wins the start race
    assert.equal(sim.state(1), 'Backup');

    sim.setTrack(0, 'mysql', false);
    assert.equal(sim.router(0).effectivePriority, 80);
    // node1 advertises 80 at once instead of at its next interval.
    const immediate = sim.recordsSince(10_000, 0).filter((r) => r.action.kind === 'send');
    assert.equal(immediate[0]?.at, 10_000);
    assert.equal(sentPriority(immediate[0]?.action ?? { kind: 'addVips', addresses: [] }), 80);

    sim.runUntil(20_000);
    assert.equal(sim.state(1), 'Master');
    assert.equal(sim.state(0), 'Backup');
    // node2 discarded 80 from the immediate advert on: it took over one Master_Down_Interval
    // after the last advert it accepted (node1's regular advert before the check failed).
    const takeover = sim.recordsSince(10_000, 1).find((r) => r.action.kind === 'transition');
    const lastAccepted = sim.lastDelivery(0, 1, 9_999.99);
    assert.ok(takeover !== undefined && lastAccepted !== undefined);
    assert.equal(takeover.at, lastAccepted.at + masterDownIntervalMs(3, 90, 100));
    assert.equal(takeover.action.kind === 'transition' && takeover.action.reason, 'preempting lower priority master 198.18.0.1 (80)');

    sim.setTrack(0, 'mysql', true);
    assert.equal(sim.router(0).effectivePriority, 100);
    sim.runUntil(120_000);
    assert.equal(sim.state(1), 'Master');
    assert.equal(sim.state(0), 'Backup');
    assert.equal(sim.router(0).masterIP, '198.18.0.2');
  });
});

describe('restart of a higher-priority node', () => {
  it('with preempt it takes over one Master_Down_Interval after start; the old master yields', () => {
    const low = config({ name: 'low', priority: 100, localAddress: '198.18.0.1' });
    const high = config({ name: 'high', priority: 200, localAddress: '198.18.0.2' });
    const sim = new Simulator([low, high], { seed: 2, minDelayMs: 1, maxDelayMs: 1 });
    sim.start(0);
    sim.runUntil(10_000);
    sim.start(1);
    sim.runUntil(30_000);
    assert.equal(sim.state(1), 'Master');
    assert.equal(sim.state(0), 'Backup');
    const t = sim.recordsSince(10_000, 1).find((r) => r.action.kind === 'transition' && r.action.to === 'Master');
    assert.equal(t?.at, 10_000 + masterDownIntervalMs(3, 200, 100));
    // The old master's yield (improvement b) sends one advert of its own, then it goes quiet.
    const yielded = sim.recordsSince(10_000, 0);
    const yieldAt = yielded.find((r) => r.action.kind === 'transition')?.at;
    assert.deepEqual(
      kinds(yielded.filter((r) => r.at === yieldAt).map((r) => r.action)),
      ['transition:Master->Backup', 'send', 'removeVips'],
    );
    assert.equal(yielded.filter((r) => r.action.kind === 'send' && r.at > (yieldAt ?? 0)).length, 0);
  });
});
