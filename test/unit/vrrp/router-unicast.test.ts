// Unicast routers whose peers come and go (unicastPeers [auto] on Kubernetes): a router alone
// stays unicast and sends nothing, and a running router takes a new peer list in place.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkRouterConfig } from '../../../src/vrrp/config.ts';
import { VrrpRouter } from '../../../src/vrrp/router.ts';
import { config, drain, hear, sends } from './helpers.ts';

/** Started and past its Master_Down_Timer: Master, unless something it heard says otherwise. */
function run(overrides: Parameters<typeof config>[0]): { router: VrrpRouter; at: number } {
  const router = new VrrpRouter(config(overrides));
  router.start(0);
  const at = router.nextTimeout() ?? NaN;
  router.timeout(at);
  drain(router);
  return { router, at };
}

describe('a unicast router alone', () => {
  it('becomes master and sends nothing, not even to the multicast group', () => {
    const { router, at } = run({ unicast: true, unicastPeers: [] });
    assert.equal(router.state, 'Master');
    router.timeout(at + 1000);
    assert.deepEqual(sends(drain(router)), []);
    assert.equal(router.stats.advertsSent, 0, 'no advert went anywhere');
  });

  it('hears no one until it has peers: an advert from anyone is from an unknown peer', () => {
    const { router, at } = run({ unicast: true, unicastPeers: [] });
    hear(router, '198.18.0.2', 200, at + 1, { dst: '198.18.0.1' });
    assert.equal(router.state, 'Master');
    assert.equal(router.stats.drops['unknown-peer'], 1);
  });

  it('IPv6: may send from a global address (the peers check sources against their lists)', () => {
    const v6 = { family: 6 as const, virtualIPs: ['2001:2::100'], localAddress: '2001:2::1', unicast: true, unicastPeers: [] };
    assert.deepEqual(checkRouterConfig(config(v6)), []);
    assert.deepEqual(checkRouterConfig(config({ ...v6, unicast: undefined })), ['localAddress: IPv6 multicast adverts must come from a link-local address']);
  });

  it('unicast: false with peers listed is a contradiction', () => {
    assert.deepEqual(checkRouterConfig(config({ unicast: false, unicastPeers: ['198.18.0.2'] })), ['unicast: false, but unicastPeers lists peers']);
  });
});

describe('setUnicastPeers', () => {
  it('a master sends its next advert to the new peers, and yields to a new peer that outranks it', () => {
    const { router, at } = run({ unicast: true, unicastPeers: [] });
    router.setUnicastPeers(['198.18.0.3', '198.18.0.2']);
    assert.equal(router.state, 'Master', 'no restart, no transition');
    assert.deepEqual(drain(router), []);
    router.timeout(at + 1000);
    assert.deepEqual(sends(drain(router)).map((s) => s.to), [['198.18.0.3'], ['198.18.0.2']]);
    hear(router, '198.18.0.2', 200, at + 1001);
    assert.equal(router.state, 'Backup');
    assert.equal(router.masterIP, '198.18.0.2');
  });

  it('a peer taken off the list is not heard any more', () => {
    const { router, at } = run({ unicastPeers: ['198.18.0.2', '198.18.0.3'], priority: 50 });
    hear(router, '198.18.0.2', 200, at + 1);
    assert.equal(router.state, 'Backup');
    router.setUnicastPeers(['198.18.0.3']);
    hear(router, '198.18.0.2', 200, at + 2);
    assert.equal(router.stats.drops['unknown-peer'], 1);
    assert.deepEqual(router.config.unicastPeers, ['198.18.0.3']);
  });

  it('an unusable list changes nothing; a multicast router has no peers to set', () => {
    const { router, at } = run({ unicastPeers: ['198.18.0.2'] });
    assert.throws(() => router.setUnicastPeers(['198.18.0.1']), /unicastPeers\[0\]: is the local address/);
    assert.throws(() => router.setUnicastPeers(['2001:2::2']), /unicastPeers\[0\]: not an IPv4 address/);
    router.timeout(at + 1000);
    assert.deepEqual(sends(drain(router)).map((s) => s.to), [['198.18.0.2']]);
    assert.throws(() => run({}).router.setUnicastPeers(['198.18.0.2']), /a multicast router has no peers to set/);
  });
});
