import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackRunner } from '../../../src/agent/tracks.ts';
import type { VrrpInstance } from '../../../src/api/vrrp-instance.ts';

test('a track following a VirtualServer goes down and up with its quorum', () => {
  const events: [string, string, boolean, string][] = [];
  const runner = new TrackRunner((instance, track, result, changed, up) => {
    if (changed) events.push([instance, track, up, result.detail]);
  });
  const inst = { name: 'vi', spec: { tracks: [{ name: 'web', weight: -50, virtualServer: { namespace: 'default', name: 'web' } }] } } as unknown as VrrpInstance;
  runner.apply([inst]);
  assert.equal(runner.isUp('vi', 'web'), true, 'up before anything is known');
  runner.virtualServerQuorum('default/web', true);
  runner.virtualServerQuorum('default/other', false);
  assert.deepEqual(events, []);
  runner.virtualServerQuorum('default/web', false);
  assert.equal(runner.isUp('vi', 'web'), false);
  runner.virtualServerQuorum('default/web', true);
  assert.deepEqual(events, [
    ['vi', 'web', false, 'VirtualServer default/web lost quorum'],
    ['vi', 'web', true, 'VirtualServer default/web has quorum'],
  ]);
  assert.deepEqual(runner.apply([]), [{ instance: 'vi', track: 'web' }]);
  runner.stop();
});
