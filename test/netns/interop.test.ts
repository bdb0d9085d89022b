// kubelived and real keepalived (Debian's package) in one virtual router: they elect by
// priority in both directions and fail over to each other, VRRPv3 and VRRPv2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vrrpInstance, startAgent, configYaml } from '../lab/agent.ts';
import { startKeepalived } from '../lab/keepalived.ts';
import { vip4 } from '../lab/lab.ts';
import { useLab, assertServedBy } from './scenario.ts';

const lab = useLab(2, 'interop');

const CASES = [
  { version: 3 as const, interval: '100ms', keepalivedInt: 0.1, auth: undefined },
  { version: 2 as const, interval: '1s', keepalivedInt: 1, auth: 'interop' },
];

for (const c of CASES) {
  const VIP = vip4(20 + c.version);
  const docs = (priority: number): Record<string, unknown>[] => [
    vrrpInstance({
      vrid: 70 + c.version, version: c.version, vips: [`${VIP}/24`], priority, advertisementInterval: c.interval,
      ...(c.auth ? { authentication: { type: 'PASS' as const, secretRef: { name: 'vrrp', key: 'password' } } } : {}),
    }),
    ...(c.auth ? [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vrrp' }, stringData: { password: c.auth } }] : []),
  ];
  const keepalivedConf = (priority: number): Parameters<typeof startKeepalived>[2] => ({
    version: c.version,
    instances: [{ vrid: 70 + c.version, priority, advertInt: c.keepalivedInt, vips: [`${VIP}/24`], ...(c.auth ? { authPass: c.auth } : {}) }],
  });
  const failoverMs = c.version === 3 ? 2000 : 5000;

  test(`v${c.version}: kubelived 150 vs keepalived 100, and keepalived takes over when kubelived dies`, async (t) => {
    const [n1, n2] = lab().nodes;
    assert.ok(n1 && n2);
    const ka = await startKeepalived(lab(), n2, keepalivedConf(100));
    t.after(() => ka.stop());
    const kl = startAgent(lab(), n1, configYaml(docs(150)));
    t.after(async () => { await kl.proc.stop(); });
    await kl.waitForState('vi', 'Master', 6000);
    await ka.waitForState('BACKUP', 6000);
    await assertServedBy(lab(), VIP, n1);
    const since = Date.now();
    kl.proc.signal('SIGKILL');
    await ka.waitForState('MASTER', failoverMs + 1000, { since });
    await assertServedBy(lab(), VIP, n2, 4000);
  });

  test(`v${c.version}: keepalived 150 vs kubelived 100, and kubelived takes over when keepalived stops`, async (t) => {
    const [n1, n2] = lab().nodes;
    assert.ok(n1 && n2);
    const ka = await startKeepalived(lab(), n2, keepalivedConf(150));
    t.after(() => ka.stop());
    await ka.waitForState('MASTER', 8000);
    const kl = startAgent(lab(), n1, configYaml(docs(100)));
    t.after(async () => { await kl.proc.stop(); });
    await kl.waitForState('vi', 'Backup', 6000);
    await assertServedBy(lab(), VIP, n2);
    const from = kl.proc.mark();
    await ka.stop();
    const line = await kl.waitForState('vi', 'Master', failoverMs, from);
    assert.match(line.reason, /priority.?0/i, 'keepalived\'s priority-0 advert was understood');
    await assertServedBy(lab(), VIP, n1);
  });
}
