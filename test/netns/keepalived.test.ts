// Real keepalived peers in the lab: proves the keepalived harness and the client probe. Two
// keepalived nodes elect by priority, the VIP is on the master only, the client reaches it and
// its neighbour entry / the answering MAC is the master's; SIGTERM of the master moves the VIP.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startKeepalived, renderKeepalivedConf, type KeepalivedConfig, type KeepalivedInstance } from '../lab/keepalived.ts';
import { createLab, vip4, vip6, type Lab, type LabNode } from '../lab/lab.ts';
import { startProbe } from '../lab/probe.ts';
import { pidAlive, sleep } from '../lab/run.ts';

function config(inst: Partial<KeepalivedInstance> & { priority: number }, version: 2 | 3 = 3): KeepalivedConfig {
  return { version, instances: [{ vrid: 51, advertInt: 0.1, vips: [`${vip4()}/24`], ...inst }] };
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('keepalived peers', () => {
  let lab: Lab;
  let n1: LabNode;
  let n2: LabNode;
  before(async () => {
    lab = await createLab({ nodes: 2 });
    [n1, n2] = lab.nodes as [LabNode, LabNode];
  });
  after(async () => {
    await lab?.teardown();
  });

  it('renders a config keepalived itself accepts (-t), with every supported option', async () => {
    const cfg: KeepalivedConfig = {
      version: 2,
      routerId: 'n1',
      scripts: [{ name: 'chk', script: '/bin/sh -c "exit 0"', interval: 1, weight: -20, rise: 2, fall: 2, timeout: 1 }],
      instances: [
        {
          name: 'VI_A',
          vrid: 7,
          priority: 120,
          advertInt: 1,
          nopreempt: true,
          authPass: 'secret1',
          unicastSrcIp: n1.ipv4,
          unicastPeers: [n2.ipv4],
          vips: [`${vip4()}/24`, `${vip4(1)}/24`],
          trackScripts: [{ name: 'chk', weight: -30 }],
          garpMasterDelay: 2,
          garpMasterRepeat: 3,
          garpMasterRefresh: 10,
          garpMasterRefreshRepeat: 2,
        },
        { name: 'VI_B', vrid: 8, priority: 100, advertInt: 2, preemptDelay: 1.5, vips: [`${vip4(2)}/24`] },
      ],
    };
    const text = renderKeepalivedConf(cfg);
    for (const want of ['vrrp_version 2', 'auth_pass secret1', 'nopreempt', 'preempt_delay 1.5', 'garp_master_refresh 10', `${vip4(1)}/24 dev eth0`, 'chk weight -30'])
      assert.ok(text.includes(want), `missing "${want}" in\n${text}`);
    const path = join(tmpdir(), `kl-${process.pid}-render-test.conf`);
    writeFileSync(path, text);
    try {
      const r = await lab.exec(n1.netns, ['keepalived', '--config-test', '-f', path], { allowFail: true });
      assert.equal(r.code, 0, `keepalived -t rejected the config:\n${r.stderr}\n${text}`);
    } finally {
      unlinkSync(path);
    }
  });

  it('v3 IPv4: priority elects, VIP only on the master, client follows; SIGTERM moves the VIP', async (t: TestContext) => {
    const k1 = await startKeepalived(lab, n1, config({ priority: 150 }));
    const k2 = await startKeepalived(lab, n2, config({ priority: 100 }));
    try {
      // Harness isolation: own dirs, own pid files, distinct VRRP children, nothing under /run.
      assert.notEqual(k1.dir, k2.dir);
      assert.ok(k1.vrrpPid() !== undefined && k2.vrrpPid() !== undefined && k1.vrrpPid() !== k2.vrrpPid());
      assert.equal(Number(readFileSync(join(k1.dir, 'keepalived.pid'), 'utf8')), k1.proc.pid);
      assert.equal(Number(readFileSync(join(k2.dir, 'keepalived.pid'), 'utf8')), k2.proc.pid);

      await k1.waitForState('MASTER', 5000);
      await k2.waitForState('BACKUP', 5000);
      await waitFor('VIP on n1', async () => (await lab.addresses(n1)).includes(vip4()), 2000);
      assert.equal((await lab.addresses(n2)).includes(vip4()), false);

      const probe = await startProbe(lab, vip4());
      await probe.waitForReplyFrom(n1.mac, 3000, 0);
      assert.equal(await lab.neighMac(lab.client, vip4()), n1.mac);
      await sleep(300);

      const trigger = Date.now();
      await k1.stop();
      const took = await k2.waitForState('MASTER', 3000, { since: trigger });
      await probe.waitForReplyFrom(n2.mac, 3000, trigger);
      await sleep(200);
      const r = await probe.stop();

      assert.equal(k1.proc.running, false);
      assert.equal((await lab.addresses(n1)).includes(vip4()), false);
      assert.equal((await lab.addresses(n2)).includes(vip4()), true);
      assert.equal(await lab.neighMac(lab.client, vip4()), n2.mac);
      assert.deepEqual(
        r.macChanges().map((c) => c.mac),
        [n1.mac, n2.mac],
      );
      const gap = r.gapAround(trigger);
      assert.ok(gap?.fromTrigger !== undefined, 'the client never got a reply after the trigger');
      // RFC 5798: after a priority-0 advert the backup waits only its skew time (~61 ms at priority 100, 100 ms adverts).
      assert.ok(gap.fromTrigger < 500, `client outage ${gap.fromTrigger} ms`);
      assert.ok(r.neighbour.some((e) => e.gratuitous && e.mac === n2.mac && e.t >= trigger), 'no gratuitous ARP from n2');
      t.diagnostic(`SIGTERM at 100 ms adverts: n2 MASTER after ${took.t - trigger} ms, client outage ${gap.fromTrigger.toFixed(1)} ms (gap ${gap.ms.toFixed(1)} ms)`);
    } finally {
      await k1.kill();
      await k2.kill();
    }
  });

  it('v3 IPv6: VIP from the link-local peer, unsolicited NA moves the client', async (t: TestContext) => {
    const v6 = (p: number): KeepalivedConfig => config({ priority: p, vips: [`${vip6()}/64`] });
    const k1 = await startKeepalived(lab, n1, v6(150));
    const k2 = await startKeepalived(lab, n2, v6(100));
    try {
      await k1.waitForState('MASTER', 5000);
      await k2.waitForState('BACKUP', 5000);
      const probe = await startProbe(lab, vip6());
      await probe.waitForReplyFrom(n1.mac, 3000, 0);
      assert.equal(await lab.neighMac(lab.client, vip6()), n1.mac);
      await sleep(200);
      const trigger = Date.now();
      await k1.stop();
      await k2.waitForState('MASTER', 3000, { since: trigger });
      await probe.waitForReplyFrom(n2.mac, 3000, trigger);
      const r = await probe.stop();
      assert.equal(await lab.neighMac(lab.client, vip6()), n2.mac);
      assert.ok(r.neighbour.some((e) => e.kind === 'na' && e.gratuitous && e.mac === n2.mac && e.t >= trigger), 'no unsolicited NA from n2');
      const gap = r.gapAround(trigger);
      assert.ok(gap?.fromTrigger !== undefined && gap.fromTrigger < 500, `client outage ${gap?.fromTrigger} ms`);
      t.diagnostic(`IPv6 SIGTERM: client outage ${gap.fromTrigger.toFixed(1)} ms`);
    } finally {
      await k1.kill();
      await k2.kill();
    }
  });

  it('v2 with PASS authentication at 1 s adverts elects and fails over on SIGTERM', async (t: TestContext) => {
    const v2 = (p: number): KeepalivedConfig => config({ priority: p, advertInt: 1, authPass: 'kl-pass' }, 2);
    const k1 = await startKeepalived(lab, n1, v2(150));
    const k2 = await startKeepalived(lab, n2, v2(100));
    try {
      await k1.waitForState('MASTER', 6000);
      assert.equal(k2.state(), 'BACKUP');
      const probe = await startProbe(lab, vip4());
      await probe.waitForReplyFrom(n1.mac, 3000, 0);
      const trigger = Date.now();
      await k1.stop();
      const tr = await k2.waitForState('MASTER', 3000, { since: trigger });
      await probe.waitForReplyFrom(n2.mac, 3000, trigger);
      const r = await probe.stop();
      const gap = r.gapAround(trigger);
      assert.ok(gap?.fromTrigger !== undefined && gap.fromTrigger < 1500, `client outage ${gap?.fromTrigger} ms`);
      t.diagnostic(`v2 1 s adverts SIGTERM: MASTER after ${tr.t - trigger} ms, client outage ${gap.fromTrigger.toFixed(1)} ms`);
    } finally {
      await k1.kill();
      await k2.kill();
    }
  });

  it('unicast peers elect; kill() is a crash that leaves the VIP behind on the dead master', async () => {
    const uni = (self: LabNode, peer: LabNode, p: number): KeepalivedConfig => config({ priority: p, unicastSrcIp: self.ipv4, unicastPeers: [peer.ipv4] });
    const k1 = await startKeepalived(lab, n1, uni(n1, n2, 150));
    const k2 = await startKeepalived(lab, n2, uni(n2, n1, 100));
    try {
      await k1.waitForState('MASTER', 5000);
      await k2.waitForState('BACKUP', 5000);
      const vrrpPid = k1.vrrpPid();
      const trigger = Date.now();
      await k1.kill();
      assert.equal(k1.proc.running, false);
      assert.ok(vrrpPid !== undefined && !pidAlive(vrrpPid), 'the VRRP child survived kill()');
      await k2.waitForState('MASTER', 3000, { since: trigger });
      await waitFor('VIP on n2', async () => (await lab.addresses(n2)).includes(vip4()), 2000);
      assert.equal((await lab.addresses(n1)).includes(vip4()), true, 'keepalived removed its VIP although SIGKILLed');
      await lab.exec(n1.netns, ['ip', 'addr', 'del', `${vip4()}/24`, 'dev', 'eth0']);
    } finally {
      await k1.kill();
      await k2.kill();
    }
  });

  it('a failing track script lowers the master below the backup (weight), a carrier cut is FAULT', async () => {
    const flag = join(tmpdir(), `kl-${process.pid}-track-up`);
    writeFileSync(flag, '');
    const tracked = (p: number): KeepalivedConfig => ({
      ...config({ priority: p, trackScripts: [{ name: 'up' }] }),
      scripts: [{ name: 'up', script: `/usr/bin/test -e ${flag}`, interval: 1, weight: -60, fall: 1, rise: 1 }],
    });
    const k1 = await startKeepalived(lab, n1, tracked(150));
    const k2 = await startKeepalived(lab, n2, config({ priority: 100 }));
    try {
      await k1.waitForState('MASTER', 5000);
      const trigger = Date.now();
      unlinkSync(flag);
      await k2.waitForState('MASTER', 5000, { since: trigger });
      await k1.waitForState('BACKUP', 3000, { since: trigger });
      writeFileSync(flag, '');
      const back = Date.now();
      await k1.waitForState('MASTER', 5000, { since: back });
      const cut = Date.now();
      await lab.cutLink(n1);
      await k1.waitForState('FAULT', 5000, { since: cut });
      await k2.waitForState('MASTER', 5000, { since: cut });
      await lab.restoreLink(n1);
    } finally {
      await k1.kill();
      await k2.kill();
      if (existsSync(flag)) unlinkSync(flag);
    }
  });
});
