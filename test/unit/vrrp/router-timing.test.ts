// The RFC 5798 §6 state machine's timers to the exact millisecond: Master_Down_Interval and
// Skew_Time (v3 and v2), the learned Master_Adver_Interval, priority-0 takeover after the skew
// only, advert cadence, shutdown, address owner, and the ordering of takeover actions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAdvert } from '../../../src/vrrp/packet.ts';
import { VrrpRouter } from '../../../src/vrrp/router.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../../src/vrrp/timers.ts';
import { config, drain, hear, kinds, sends, sentPriority, transitions } from './helpers.ts';

/** Starts a router at t0 and lets its Master_Down_Timer expire: it is Master at the return. */
function masterAt(t0: number, overrides: Parameters<typeof config>[0] = {}): { router: VrrpRouter; at: number } {
  const router = new VrrpRouter(config(overrides));
  router.start(t0);
  const at = router.nextTimeout() ?? NaN;
  router.timeout(at);
  drain(router);
  assert.equal(router.state, 'Master');
  return { router, at };
}

describe('timer arithmetic', () => {
  it('v3: priority 100 at 100 cs: skew 609.375 ms, Master_Down_Interval 3609.375 ms (the lab measured 3.609 s)', () => {
    assert.equal(skewTimeMs(3, 100, 100), 609.375);
    assert.equal(masterDownIntervalMs(3, 100, 100), 3 * 1000 + 609.375);
    assert.equal(masterDownIntervalMs(3, 100, 10), 300 + 60.9375); // 0.361 s at 100 ms adverts
    assert.equal(masterDownIntervalMs(3, 254, 100), 3000 + 7.8125);
    assert.equal(masterDownIntervalMs(3, 1, 4095), 3 * 40950 + (255 * 40950) / 256);
  });
  it('v2: the skew is (256 - priority) / 256 s whatever the interval', () => {
    assert.equal(skewTimeMs(2, 100, 100), 609.375);
    assert.equal(skewTimeMs(2, 100, 500), 609.375);
    assert.equal(masterDownIntervalMs(2, 100, 300), 9000 + 609.375);
  });
});

describe('Initialize -> Backup -> Master', () => {
  it('start: Backup with Master_Down_Timer = Master_Down_Interval; nothing sent', () => {
    const router = new VrrpRouter(config());
    assert.equal(router.state, 'Initialize');
    assert.equal(router.nextTimeout(), undefined);
    router.start(1000);
    assert.equal(router.state, 'Backup');
    assert.equal(router.nextTimeout(), 1000 + 3609.375);
    const actions = drain(router);
    assert.deepEqual(actions, [{ kind: 'transition', from: 'Initialize', to: 'Backup', reason: 'startup', at: 1000 }]);
    router.start(1001); // idempotent while running
    assert.deepEqual(drain(router), []);
  });

  it('the timer fires exactly at Master_Down_Interval, not a microsecond earlier', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    drain(router);
    router.timeout(3609.375 - 0.001);
    assert.equal(router.state, 'Backup');
    assert.deepEqual(drain(router), []);
    router.timeout(3609.375);
    assert.equal(router.state, 'Master');
    assert.equal(router.masterIP, '198.18.0.1');
  });

  it('takeover emits, in order: transition, addVips, announce (garp.repeat), send', () => {
    const router = new VrrpRouter(config({ garp: { repeat: 3, delayMs: 0, refreshMs: 0 } }));
    router.start(0);
    drain(router);
    router.timeout(3609.375);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Backup->Master', 'addVips', 'announce', 'send']);
    assert.deepEqual(actions[0], {
      kind: 'transition',
      from: 'Backup',
      to: 'Master',
      reason: 'master-down timer expired',
      at: 3609.375,
      masterIP: '198.18.0.1',
    });
    assert.deepEqual(actions[1], { kind: 'addVips', addresses: ['198.18.0.100'] });
    assert.deepEqual(actions[2], { kind: 'announce', addresses: ['198.18.0.100'], repeat: 3 });
    const send = actions[3];
    assert.ok(send?.kind === 'send');
    assert.deepEqual(send.to, ['224.0.0.18']);
    assert.equal(send.src, '198.18.0.1');
    assert.deepEqual(decodeAdvert(send.bytes, { family: 4, src: send.src, dst: '224.0.0.18' }), {
      ok: true,
      advert: { version: 3, vrid: 51, priority: 100, intervalCs: 100, addresses: ['198.18.0.100'] },
    });
    assert.equal(router.stats.advertsSent, 1);
    assert.equal(router.stats.transitions, 2);
  });

  it('Master sends one advert per Advertisement_Interval', () => {
    const { router, at } = masterAt(0, { advertIntervalCs: 25 });
    for (let k = 1; k <= 10; k++) {
      assert.equal(router.nextTimeout(), at + k * 250);
      router.timeout(at + k * 250);
      const actions = drain(router);
      assert.deepEqual(kinds(actions), ['send']);
    }
    assert.equal(router.stats.advertsSent, 11);
  });

  it('Backup: an advert of higher or equal priority resets the timer to Master_Down_Interval', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    for (const [t, prio] of [
      [1000, 150],
      [2000, 100],
      [3000, 254],
    ] as const) {
      hear(router, '198.18.0.2', prio, t);
      assert.equal(router.nextTimeout(), t + 3609.375);
      assert.equal(router.masterIP, '198.18.0.2');
    }
    router.timeout(6609.375);
    assert.equal(router.state, 'Master');
  });

  it('Backup never sends, whatever it hears', () => {
    const router = new VrrpRouter(config({ preempt: false }));
    router.start(0);
    drain(router);
    for (let t = 100; t < 60_000; t += 700) {
      hear(router, '198.18.0.2', (t % 7) * 30 + 10, t);
      router.timeout(t);
      assert.equal(router.state, 'Backup');
      assert.deepEqual(sends(drain(router)), []);
    }
  });
});

describe('learned Master_Adver_Interval (v3)', () => {
  it('Backup adopts the master\'s interval and its Master_Down_Interval follows', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    hear(router, '198.18.0.2', 200, 10, { intervalCs: 50 });
    assert.equal(router.masterAdverIntervalCs, 50);
    assert.equal(router.nextTimeout(), 10 + 1500 + (156 * 500) / 256);
    hear(router, '198.18.0.2', 200, 500, { intervalCs: 400 });
    assert.equal(router.nextTimeout(), 500 + 12000 + (156 * 4000) / 256);
  });

  it('the new Master advertises with its own configured interval', () => {
    const router = new VrrpRouter(config({ advertIntervalCs: 100 }));
    router.start(0);
    hear(router, '198.18.0.2', 200, 10, { intervalCs: 50 });
    const at = router.nextTimeout() ?? NaN;
    router.timeout(at);
    const send = sends(drain(router))[0];
    assert.ok(send !== undefined);
    const decoded = decodeAdvert(send.bytes, { family: 4, src: send.src, dst: send.to[0] ?? '' });
    assert.ok(decoded.ok);
    assert.equal(decoded.advert.intervalCs, 100);
    assert.equal(router.nextTimeout(), at + 1000);
  });

  it('v2 does not learn: the interval must match and the down interval uses ours', () => {
    const router = new VrrpRouter(config({ version: 2, advertIntervalCs: 200 }));
    router.start(0);
    hear(router, '198.18.0.2', 200, 10, { intervalCs: 100 });
    assert.equal(router.stats.drops.interval, 1);
    hear(router, '198.18.0.2', 200, 20);
    assert.equal(router.nextTimeout(), 20 + 6000 + 609.375);
  });
});

describe('priority 0', () => {
  it('Backup: Master_Down_Timer = Skew_Time, takeover reason "priority-0 advert"', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    hear(router, '198.18.0.2', 150, 500);
    hear(router, '198.18.0.2', 0, 1200);
    assert.equal(router.stats.priorityZeroReceived, 1);
    assert.equal(router.masterIP, undefined);
    assert.equal(router.nextTimeout(), 1200 + 609.375);
    drain(router);
    router.timeout(1200 + 609.375);
    const t = transitions(drain(router));
    assert.equal(t[0]?.reason, 'priority-0 advert');
    assert.equal(router.state, 'Master');
  });

  it('Backup: the skew uses the learned interval (v3): 100 ms adverts give 60.9 ms (the lab measured 63)', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    hear(router, '198.18.0.2', 150, 100, { intervalCs: 10 });
    hear(router, '198.18.0.2', 0, 200, { intervalCs: 10 });
    assert.equal(router.nextTimeout(), 200 + 60.9375);
  });

  it('Master: answers with an advert at once, resets the Adver_Timer and re-announces', () => {
    const { router, at } = masterAt(0);
    hear(router, '198.18.0.3', 0, at + 400);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['send', 'announce']);
    assert.equal(sentPriority(actions[0] ?? { kind: 'addVips', addresses: [] }), 100);
    assert.equal(router.nextTimeout(), at + 400 + 1000);
    assert.equal(router.state, 'Master');
  });
});

describe('shutdown', () => {
  it('Master: transition, priority-0 advert, removeVips; ends in Initialize with no timers', () => {
    const { router, at } = masterAt(0);
    router.shutdown(at + 10);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Master->Initialize', 'send', 'removeVips']);
    assert.equal(actions[0]?.kind === 'transition' && actions[0].reason, 'shutdown');
    assert.equal(sentPriority(actions[1] ?? { kind: 'addVips', addresses: [] }), 0);
    assert.deepEqual(actions[2], { kind: 'removeVips', addresses: ['198.18.0.100'] });
    assert.equal(router.state, 'Initialize');
    assert.equal(router.nextTimeout(), undefined);
    assert.equal(router.masterIP, undefined);
    hear(router, '198.18.0.2', 100, at + 20);
    assert.equal(router.stats.drops['not-running'], 1);
    router.shutdown(at + 30);
    assert.deepEqual(drain(router), []);
  });

  it('Backup: only the transition; and a router can start again afterwards', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    drain(router);
    router.shutdown(5);
    assert.deepEqual(kinds(drain(router)), ['transition:Backup->Initialize']);
    router.start(100);
    assert.equal(router.state, 'Backup');
    assert.equal(router.nextTimeout(), 100 + 3609.375);
  });
});

describe('address owner (priority 255)', () => {
  it('goes straight to Master at start, advertising 255', () => {
    const router = new VrrpRouter(config({ priority: 255 }));
    router.start(7);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Initialize->Master', 'addVips', 'announce', 'send']);
    assert.equal(actions[0]?.kind === 'transition' && actions[0].reason, 'address owner');
    assert.equal(sentPriority(actions[3] ?? { kind: 'addVips', addresses: [] }), 255);
    assert.equal(router.nextTimeout(), 1007);
  });

  it('a lower advert does not move it; another owner\'s advert is dropped as a conflict', () => {
    const router = new VrrpRouter(config({ priority: 255 }));
    router.start(0);
    drain(router);
    hear(router, '198.18.0.2', 254, 10);
    assert.equal(router.state, 'Master');
    hear(router, '198.18.0.2', 255, 20);
    assert.equal(router.stats.drops['owner-conflict'], 1);
    assert.equal(router.state, 'Master');
  });
});

describe('equal priority tie-break on the primary address (RFC 5798 §6.4.3)', () => {
  it('Master yields to an equal-priority advert from a higher address', () => {
    const { router, at } = masterAt(0, { localAddress: '198.18.0.5' });
    hear(router, '198.18.0.9', 100, at + 1);
    assert.equal(router.state, 'Backup');
    assert.equal(transitions(drain(router))[0]?.reason, 'equal priority advert from higher address 198.18.0.9 (100)');
  });

  it('Master keeps the role against a lower address, and re-announces', () => {
    const { router, at } = masterAt(0, { localAddress: '198.18.0.5' });
    hear(router, '198.18.0.4', 100, at + 1);
    assert.equal(router.state, 'Master');
    assert.deepEqual(kinds(drain(router)), ['send', 'announce']);
  });

  it('addresses compare numerically, not as text (198.18.0.10 > 198.18.0.9)', () => {
    const { router, at } = masterAt(0, { localAddress: '198.18.0.9' });
    hear(router, '198.18.0.10', 100, at + 1);
    assert.equal(router.state, 'Backup');
  });

  it('IPv6 link-local addresses compare numerically too', () => {
    const overrides = { family: 6 as const, localAddress: 'fe80::9', virtualIPs: ['2001:db8::100'] };
    const { router, at } = masterAt(0, overrides);
    hear(router, 'fe80::a', 100, at + 1);
    assert.equal(router.state, 'Backup');
  });

  it('Backup accepts an equal-priority advert whatever the address (only masters break ties)', () => {
    const router = new VrrpRouter(config({ localAddress: '198.18.0.9' }));
    router.start(0);
    hear(router, '198.18.0.2', 100, 1000);
    assert.equal(router.nextTimeout(), 1000 + 3609.375);
  });
});

describe('unicast', () => {
  it('one advert per peer, each with the checksum for its destination', () => {
    const peers = ['198.18.0.2', '198.18.0.3'];
    const { router, at } = masterAt(0, { unicastPeers: peers });
    router.timeout(at + 1000);
    const out = sends(drain(router));
    assert.deepEqual(out.map((s) => s.to), [['198.18.0.2'], ['198.18.0.3']]);
    for (const s of out) {
      assert.equal(decodeAdvert(s.bytes, { family: 4, src: s.src, dst: s.to[0] ?? '' }).ok, true);
      const other = s.to[0] === '198.18.0.2' ? '198.18.0.3' : '198.18.0.2';
      assert.equal(decodeAdvert(s.bytes, { family: 4, src: s.src, dst: other }).ok, false);
    }
    assert.equal(router.stats.advertsSent, 2); // adverts, not packets
  });
});

describe('GARP bursts', () => {
  it('second burst after delayMs, periodic refresh every refreshMs, all stop when leaving Master', () => {
    const { router, at } = masterAt(0, { garp: { repeat: 5, delayMs: 5000, refreshMs: 2000 } });
    const announces: [number, number][] = [];
    let t = at;
    while (t < at + 9000) {
      t = router.nextTimeout() ?? NaN;
      router.timeout(t);
      for (const a of drain(router)) if (a.kind === 'announce') announces.push([t - at, a.repeat]);
    }
    assert.deepEqual(announces, [
      [2000, 1],
      [4000, 1],
      [5000, 5],
      [6000, 1],
      [8000, 1],
    ]);
    hear(router, '198.18.0.2', 200, t + 1);
    drain(router);
    assert.equal(router.state, 'Backup');
    assert.equal(router.nextTimeout(), t + 1 + 3609.375); // only the Master_Down_Timer is left
  });
});
