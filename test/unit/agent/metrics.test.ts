// The agent's metrics over the life of its config: real-server series follow the config (a pod
// replaced behind a backendRef, a deleted object leaves the scrape, so the number of series stays
// bounded by what the node runs), and VRRP counters survive a router restarted by a spec change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResources } from '../../../src/api/documents.ts';
import type { VirtualServer } from '../../../src/api/virtual-server.ts';
import { AgentMetrics } from '../../../src/agent/metrics.ts';
import type { InstanceSnapshot } from '../../../src/agent/messages.ts';
import type { CheckResult } from '../../../src/health/index.ts';

function virtualServer(addresses: string[]): VirtualServer {
  const set = parseResources(`
apiVersion: kubelived.io/v1alpha1
kind: VrrpInstance
metadata: { name: vi }
spec: { vrid: 51, virtualIPs: ["2001:db8::100/64"] }
---
apiVersion: kubelived.io/v1alpha1
kind: VirtualServer
metadata: { name: web, namespace: shop }
spec:
  vrrpInstanceRef: vi
  virtualIP: "2001:db8::100"
  port: 80
  healthCheck: { type: TCP }
  realServers: [${addresses.map((a) => `{ address: "${a}", port: 8080 }`).join(', ')}]
`, 'f.yaml');
  const vs = set.virtualServers[0];
  assert.ok(vs);
  return vs;
}

const OK: CheckResult = { ok: true, durationMs: 2, detail: 'connected', timedOut: false };

/** The scrape's lines about real servers. */
async function realServerLines(m: AgentMetrics): Promise<string[]> {
  return (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('kubelived_realserver_') && !l.startsWith('#'));
}

test('series of real servers removed from the config disappear and do not come back', async () => {
  const m = new AgentMetrics();
  const both = virtualServer(['2001:db8::1', '2001:db8::2']);
  m.running([both]);
  for (const rs of both.spec.realServers) m.realServer('shop/web', rs, true, true, OK);
  const before = await realServerLines(m);
  assert.ok(before.includes('kubelived_realserver_up{virtual_server="shop/web",real_server="[2001:db8::2]:8080"} 1'), before.join('\n'));

  const one = virtualServer(['2001:db8::1']);
  m.running([one]);
  // The removed server's checker may report once more before it stops.
  const gone = both.spec.realServers[1];
  assert.ok(gone);
  m.realServer('shop/web', gone, false, true, OK);
  const after = await realServerLines(m);
  assert.deepEqual(after.filter((l) => l.includes('2001:db8::2')), []);
  assert.ok(after.some((l) => l.startsWith('kubelived_realserver_up{virtual_server="shop/web",real_server="[2001:db8::1]:8080"} 1')));

  m.running([]);
  assert.deepEqual(await realServerLines(m), [], 'a VirtualServer the node no longer runs leaves no series');
});

test('a router restarted by a spec change counts from zero without the counters going down', async () => {
  const m = new AgentMetrics();
  const snap = (advertsSent: number, auth: number): InstanceSnapshot =>
    ({ name: 'db', state: 'Master', effectivePriority: 100, masterIP: undefined, advertsSent, advertsReceived: 0, drops: { auth } });
  m.snapshot([snap(100, 2)], 0, 0);
  // The restarted router has sent 3 adverts and seen no bad password yet.
  m.snapshot([snap(3, 0)], 0, 0);
  m.snapshot([snap(5, 1)], 0, 0);
  const body = await m.registry.metrics();
  assert.match(body, /^kubelived_vrrp_adverts_sent_total\{vrrp_instance="db"\} 105$/m);
  assert.match(body, /^kubelived_vrrp_packets_dropped_total\{vrrp_instance="db",reason="auth"\} 3$/m);
});
