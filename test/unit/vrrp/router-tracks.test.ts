// Tracked checks with keepalived semantics (weights, clamping, weight 0 => Fault), link state,
// and the Fault state's entry and exit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VrrpRouter, type RouterConfig } from '../../../src/vrrp/router.ts';
import { config, drain, hear, kinds, sentPriority, transitions } from './helpers.ts';

function master(overrides: Partial<RouterConfig>): { router: VrrpRouter; at: number } {
  const router = new VrrpRouter(config(overrides));
  router.start(0);
  const at = router.nextTimeout() ?? NaN;
  if (router.state === 'Backup') router.timeout(at);
  drain(router);
  return { router, at: router.state === 'Master' ? at : 0 };
}

describe('effective priority', () => {
  it('base + weights of down negative tracks + weights of up positive tracks', () => {
    const router = new VrrpRouter(
      config({ priority: 100, tracks: [{ name: 'a', weight: -20 }, { name: 'b', weight: -30 }, { name: 'c', weight: 10 }] }),
    );
    assert.equal(router.effectivePriority, 110); // tracks start up
    router.setTrack('a', false, 0);
    assert.equal(router.effectivePriority, 90);
    router.setTrack('b', false, 0);
    assert.equal(router.effectivePriority, 60);
    router.setTrack('c', false, 0);
    assert.equal(router.effectivePriority, 50);
    router.setTrack('a', true, 0);
    assert.equal(router.effectivePriority, 70);
  });

  it('clamped to 1..254', () => {
    const low = new VrrpRouter(config({ priority: 10, tracks: [{ name: 'a', weight: -50 }] }));
    low.setTrack('a', false, 0);
    assert.equal(low.effectivePriority, 1);
    const high = new VrrpRouter(config({ priority: 250, tracks: [{ name: 'a', weight: 10 }] }));
    assert.equal(high.effectivePriority, 254);
  });

  it('the address owner stays at 255 and its tracks can only fault it', () => {
    const router = new VrrpRouter(config({ priority: 255, tracks: [{ name: 'a', weight: -20 }] }));
    router.start(0);
    drain(router);
    assert.equal(router.effectivePriority, 255);
    router.setTrack('a', false, 10);
    assert.equal(router.state, 'Fault');
    assert.equal(router.effectivePriority, 255);
    router.setTrack('a', true, 20);
    assert.equal(router.state, 'Master'); // an owner leaving Fault goes straight back to Master
  });

  it('a change while Master is advertised at once, with the Adver_Timer reset', () => {
    const { router, at } = master({ tracks: [{ name: 'chk', weight: -30 }] });
    router.setTrack('chk', false, at + 300);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['send']);
    assert.equal(sentPriority(actions[0] ?? { kind: 'addVips', addresses: [] }), 70);
    assert.equal(router.nextTimeout(), at + 300 + 1000);
    assert.equal(router.state, 'Master'); // the backups decide (preempt); the master does not step down
  });

  it('no advert when the effective priority does not change (clamped)', () => {
    const { router } = master({ priority: 250, tracks: [{ name: 'a', weight: 10 }, { name: 'b', weight: 20 }] });
    router.setTrack('a', false, 5000);
    assert.equal(router.effectivePriority, 254);
    assert.deepEqual(drain(router), []);
  });

  it('unknown or unchanged tracks are ignored', () => {
    const { router } = master({ tracks: [{ name: 'a', weight: -10 }] });
    router.setTrack('nope', false, 5000);
    router.setTrack('a', true, 5000);
    assert.deepEqual(drain(router), []);
  });

  it('a Backup whose priority rises above a lower master\'s preempts on the next discarded advert', () => {
    const router = new VrrpRouter(config({ priority: 90, tracks: [{ name: 'boost', weight: 20 }] }));
    router.setTrack('boost', false, 0);
    router.start(0);
    hear(router, '198.18.0.3', 100, 1000);
    router.setTrack('boost', true, 1500); // 110 now
    assert.deepEqual(kinds(drain(router)), ['transition:Initialize->Backup']);
    hear(router, '198.18.0.3', 100, 2000); // discarded
    assert.equal(router.nextTimeout(), 1000 + 3000 + (256 - 90) * 1000 / 256);
  });
});

describe('Fault', () => {
  it('weight-0 track down while Master: Fault, priority-0 advert, removeVips, no timers', () => {
    const { router, at } = master({ tracks: [{ name: 'mysql', weight: 0 }] });
    router.setTrack('mysql', false, at + 10);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Master->Fault', 'send', 'removeVips']);
    assert.equal(transitions(actions)[0]?.reason, 'track mysql down');
    assert.equal(sentPriority(actions[1] ?? { kind: 'addVips', addresses: [] }), 0);
    assert.equal(router.nextTimeout(), undefined);
    assert.equal(router.masterIP, undefined);
  });

  it('Fault ignores adverts (counted as received) and leaves for Backup when the track recovers', () => {
    const router = new VrrpRouter(config({ tracks: [{ name: 'mysql', weight: 0 }] }));
    router.start(0);
    router.setTrack('mysql', false, 100);
    hear(router, '198.18.0.2', 0, 200);
    hear(router, '198.18.0.2', 50, 300);
    assert.equal(router.state, 'Fault');
    assert.equal(router.stats.advertsReceived, 2);
    router.setTrack('mysql', true, 1000);
    const t = transitions(drain(router));
    assert.deepEqual(t.map((x) => [x.from, x.to, x.reason]), [
      ['Initialize', 'Backup', 'startup'],
      ['Backup', 'Fault', 'track mysql down'],
      ['Fault', 'Backup', 'track mysql up'],
    ]);
    assert.equal(router.nextTimeout(), 1000 + 3609.375);
  });

  it('link down while Master: Fault without sending (no carrier), VIPs removed; link up: Backup', () => {
    const { router, at } = master({});
    router.setLink(false, at + 5);
    const actions = drain(router);
    assert.deepEqual(kinds(actions), ['transition:Master->Fault', 'removeVips']);
    assert.equal(transitions(actions)[0]?.reason, 'link down');
    router.setLink(false, at + 6);
    assert.deepEqual(drain(router), []);
    router.setLink(true, at + 100);
    assert.deepEqual(transitions(drain(router)).map((x) => x.reason), ['link up']);
    assert.equal(router.state, 'Backup');
  });

  it('every fault cause must clear before leaving Fault', () => {
    const router = new VrrpRouter(config({ tracks: [{ name: 't', weight: 0 }] }));
    router.start(0);
    router.setLink(false, 10);
    router.setTrack('t', false, 20);
    router.setLink(true, 30);
    assert.equal(router.state, 'Fault');
    router.setTrack('t', true, 40);
    assert.equal(router.state, 'Backup');
  });

  it('conditions set before start() are honoured by start()', () => {
    const router = new VrrpRouter(config({ tracks: [{ name: 't', weight: 0 }, { name: 'w', weight: -10 }] }));
    router.setTrack('w', false, 0);
    router.setTrack('t', false, 0);
    assert.deepEqual(drain(router), []);
    router.start(5);
    assert.equal(router.state, 'Fault');
    assert.equal(router.effectivePriority, 90);
    assert.deepEqual(transitions(drain(router)).map((x) => x.reason), ['track t down']);

    const linkless = new VrrpRouter(config({ priority: 255 }));
    linkless.setLink(false, 0);
    linkless.start(0);
    assert.equal(linkless.state, 'Fault');
    assert.deepEqual(transitions(drain(linkless)).map((x) => x.reason), ['link down']);
  });

  it('shutdown from Fault is a plain transition', () => {
    const router = new VrrpRouter(config());
    router.start(0);
    router.setLink(false, 1);
    drain(router);
    router.shutdown(2);
    assert.deepEqual(kinds(drain(router)), ['transition:Fault->Initialize']);
  });
});

describe('config checks', () => {
  const bad: [string, Partial<RouterConfig>][] = [
    ['vrid 0', { vrid: 0 }],
    ['priority 0', { priority: 0 }],
    ['v2 over IPv6', { version: 2, family: 6, localAddress: 'fe80::1', virtualIPs: ['2001:db8::1'] }],
    ['v2 interval not whole seconds', { version: 2, advertIntervalCs: 150 }],
    ['v3 interval 4096', { advertIntervalCs: 4096 }],
    ['no VIPs', { virtualIPs: [] }],
    ['VIP of the other family', { virtualIPs: ['2001:db8::1'] }],
    ['VIP with prefix length', { virtualIPs: ['198.18.0.100/24'] }],
    ['duplicate VIP', { virtualIPs: ['198.18.0.100', '198.18.0.100'] }],
    ['password with v3', { authPassword: 'x' }],
    ['password of 9 bytes', { version: 2, authPassword: '123456789' }],
    ['IPv6 multicast from a global source', { family: 6, localAddress: '2001:db8::1', virtualIPs: ['2001:db8::100'] }],
    ['peer is ourselves', { unicastPeers: ['198.18.0.1'] }],
    ['duplicate track', { tracks: [{ name: 'a', weight: 1 }, { name: 'a', weight: 2 }] }],
    ['garp repeat 0', { garp: { repeat: 0, delayMs: 0, refreshMs: 0 } }],
    ['negative preempt delay', { preemptDelayMs: -1 }],
  ];
  for (const [name, overrides] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => new VrrpRouter(config(overrides)), RangeError));
  }
  it('accepts IPv6 unicast from a global address and v2 with a password', () => {
    assert.doesNotThrow(() => new VrrpRouter(config({ family: 6, localAddress: '2001:db8::1', unicastPeers: ['2001:db8::2'], virtualIPs: ['2001:db8::100'] })));
    assert.doesNotThrow(() => new VrrpRouter(config({ version: 2, authPassword: 'secret' })));
  });
});
