// The namespace lab itself: connectivity, isolation, link faults, and that every namespace goes
// away at teardown, on an uncaught error, on SIGTERM, and (by the next lab's sweep) after SIGKILL.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createLab, linkLocalOf, withLab, type Lab, type LabNode } from '../lab/lab.ts';
import { startProbe } from '../lab/probe.ts';
import { pidAlive, run, sleep } from '../lab/run.ts';

const FIXTURE = new URL('../lab/fixtures/lab-child.ts', import.meta.url).pathname;

function netnsNames(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

async function ping(lab: Lab, from: LabNode, to: string, opts: { timeoutS?: number } = {}): Promise<boolean> {
  const argv = ['ping', '-n', '-c', '1', '-W', String(opts.timeoutS ?? 1)];
  if (to.startsWith('fe80:')) argv.push('-I', from.ifname);
  const r = await lab.exec(from.netns, [...argv, to], { allowFail: true });
  return r.code === 0;
}

void describe('lab', () => {
  let lab: Lab;
  before(async () => {
    lab = await createLab({ nodes: 2 });
  });
  after(async () => {
    await lab?.teardown();
  });

  void it('names, addresses and MACs follow the documented plan', () => {
    assert.equal(lab.id, `kl${process.pid}`);
    assert.equal(lab.bridgeNetns, `kl${process.pid}-br`);
    assert.equal(lab.client.netns, `kl${process.pid}-c`);
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    assert.deepEqual(
      [n1.name, n1.ipv4, n1.ipv6, n1.mac, n1.ifname, n1.prefix4, n1.prefix6],
      ['n1', '198.18.0.11', '2001:2::11', '02:6b:6c:00:00:01', 'eth0', 24, 64],
    );
    assert.equal(n2.ipv4, '198.18.0.12');
    assert.equal(n1.linkLocal, 'fe80::6b:6cff:fe00:1');
    assert.equal(linkLocalOf('02:00:00:00:00:05'), 'fe80::ff:fe00:5');
    assert.deepEqual([lab.client.ipv4, lab.client.ipv6], ['198.18.0.2', '2001:2::2']);
    for (const ns of [lab.bridgeNetns, ...lab.hosts.map((h) => h.netns)]) assert.ok(existsSync(`/run/netns/${ns}`), ns);
  });

  void it('every host reaches every other over IPv4, IPv6 and link-local', async () => {
    const checks: Promise<[string, boolean]>[] = [];
    for (const a of lab.hosts)
      for (const b of lab.hosts)
        if (a !== b)
          for (const dst of [b.ipv4, b.ipv6, b.linkLocal])
            checks.push(ping(lab, a, dst).then((ok) => [`${a.name} -> ${b.name} ${dst}`, ok]));
    const failed = (await Promise.all(checks)).filter(([, ok]) => !ok).map(([what]) => what);
    assert.deepEqual(failed, []);
  });

  void it('eth0 carries exactly the planned addresses, and the neighbour table sees the right MAC', async () => {
    for (const h of lab.hosts) assert.deepEqual((await lab.addresses(h)).sort(), [h.ipv4, h.ipv6, h.linkLocal].sort());
    const [n1] = lab.nodes as [LabNode];
    assert.ok(await ping(lab, lab.client, n1.ipv4));
    assert.equal(await lab.neighMac(lab.client, n1.ipv4), n1.mac);
    assert.equal(await lab.neighMac(lab.client, '198.18.0.250'), undefined);
  });

  void it('is isolated: no default route, only lab prefixes, no lab interface in the root namespace', async () => {
    for (const ns of [lab.bridgeNetns, ...lab.hosts.map((h) => h.netns)]) {
      for (const fam of ['-4', '-6']) {
        const r = await lab.exec(ns, ['ip', fam, '-j', 'route', 'show', 'table', 'all'], { allowFail: true });
        const routes = JSON.parse(r.stdout || '[]') as { dst: string; type?: string; table?: string }[];
        assert.equal(routes.filter((x) => x.dst === 'default').length, 0, `${ns} ${fam} has a default route`);
        for (const x of routes) {
          if (x.table === 'local' || x.type === 'multicast' || x.dst.startsWith('ff00::') || x.dst === 'multicast') continue;
          assert.ok(['198.18.0.0/24', '2001:2::/64', 'fe80::/64'].includes(x.dst), `${ns}: unexpected route ${JSON.stringify(x)}`);
        }
      }
      const addrs = JSON.parse((await lab.exec(ns, ['ip', '-j', 'addr'])).stdout) as { addr_info: { local: string }[] }[];
      for (const a of addrs.flatMap((l) => l.addr_info)) {
        const ok = a.local.startsWith('198.18.') || a.local.startsWith('2001:2:') || a.local.startsWith('fe80:') || a.local === '127.0.0.1' || a.local === '::1';
        assert.ok(ok, `${ns}: address ${a.local} outside the lab ranges`);
      }
    }
    // Read-only look at the root namespace: none of the lab's MACs or port names is there.
    const root = JSON.parse((await run(['ip', '-j', 'link'])).stdout) as { ifname: string; address?: string }[];
    assert.equal(root.filter((l) => l.address?.startsWith('02:6b:6c:') || /^p-(n\d+|c)$/.test(l.ifname) || l.ifname === 'br0').length, 0);
    // The bridge: own namespace, netfilter off, STP off.
    const br = JSON.parse((await lab.exec(lab.bridgeNetns, ['ip', '-d', '-j', 'link', 'show', 'br0'])).stdout) as {
      linkinfo: { info_data: Record<string, number> };
    }[];
    const info = br[0]?.linkinfo.info_data ?? {};
    assert.deepEqual([info.nf_call_iptables, info.nf_call_ip6tables, info.nf_call_arptables, info.stp_state], [0, 0, 0, 0]);
  });

  void it('partition blocks traffic silently (link stays up) and heal restores it', async () => {
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    await lab.partition(n1);
    try {
      assert.equal((await lab.linkState(n1)).carrier, true);
      const [a, b, c] = await Promise.all([ping(lab, lab.client, n1.ipv4), ping(lab, n2, n1.ipv6), ping(lab, lab.client, n2.ipv4)]);
      assert.deepEqual([a, b, c], [false, false, true]);
    } finally {
      await lab.heal(n1);
    }
    assert.ok(await ping(lab, lab.client, n1.ipv4, { timeoutS: 2 }));
    assert.ok(await ping(lab, n2, n1.ipv6, { timeoutS: 2 }));
  });

  void it('cutLink takes the carrier away and restoreLink brings it back', async () => {
    const [n1] = lab.nodes as [LabNode];
    await lab.cutLink(n1);
    try {
      const st = await lab.linkState(n1);
      assert.equal(st.carrier, false);
      assert.equal(await ping(lab, lab.client, n1.ipv4), false);
    } finally {
      await lab.restoreLink(n1);
    }
    assert.equal((await lab.linkState(n1)).carrier, true);
    assert.ok(await ping(lab, lab.client, n1.ipv4, { timeoutS: 2 }));
  });

  void it('spawn tracks output lines and stops by PID; exec rejects with stderr', async () => {
    const [n1] = lab.nodes as [LabNode];
    const p = lab.spawn(n1.netns, ['sh', '-c', 'echo one; echo two >&2; exec sleep 30']);
    assert.equal(await p.waitForLine(/two/, 2000, 0), 'two');
    assert.equal(p.running, true);
    assert.equal(await p.stop(500), null);
    assert.equal(p.exitSignal, 'SIGTERM');
    assert.deepEqual(
      p.output.map((l) => [l.stream, l.line]),
      [
        ['stdout', 'one'],
        ['stderr', 'two'],
      ],
    );
    await assert.rejects(lab.exec(n1.netns, ['ip', 'link', 'show', 'nosuchdev']), /nosuchdev|not exist/);
    assert.equal((await lab.exec(n1.netns, ['sh', '-c', 'exit 3'], { allowFail: true })).code, 3);
    assert.equal((await lab.exec(n1.netns, ['cat'], { input: 'piped' })).stdout, 'piped');
    await assert.rejects(lab.exec('not-a-lab-netns', ['true']), /not a namespace of lab/);
  });

  void it('the probe sees a reply every ~5 ms, each with the answering MAC', async () => {
    const [n1] = lab.nodes as [LabNode];
    const probe = await startProbe(lab, n1.ipv4);
    await sleep(500);
    const r = await probe.stop();
    assert.ok(r.replies.length > 50, `only ${r.replies.length} replies in 500 ms`);
    assert.deepEqual(
      r.macChanges().map((c) => c.mac),
      [n1.mac],
    );
    const gaps = r.replies.slice(1).map((x, i) => x.t - (r.replies[i]?.t ?? 0));
    gaps.sort((a, b) => a - b);
    const median = gaps[gaps.length >> 1] ?? Infinity;
    assert.ok(median < 12, `median reply gap ${median} ms`);
    assert.equal(r.gaps(100).length, 0);
  });
});

void describe('lab lifetime', () => {
  void it('teardown removes every namespace and process, even when the test body throws', async () => {
    let names: string[] = [];
    let pid = 0;
    await assert.rejects(
      withLab({ nodes: 2, name: 'boom' }, (lab) => {
        names = [lab.bridgeNetns, ...lab.hosts.map((h) => h.netns)];
        pid = lab.spawn(lab.nodes[0]?.netns ?? '', ['sleep', '60']).pid;
        throw new Error('test body failed');
      }),
      /test body failed/,
    );
    assert.equal(names.length, 4);
    assert.deepEqual(
      names.filter((n) => existsSync(`/run/netns/${n}`)),
      [],
    );
    assert.equal(pidAlive(pid), false);
  });

  void it('teardown is idempotent and the lab refuses work afterwards', async () => {
    const lab = await createLab({ nodes: 1, name: 'twice' });
    await Promise.all([lab.teardown(), lab.teardown()]);
    await lab.teardown();
    await assert.rejects(lab.exec(lab.client.netns, ['true']), /torn down/);
    assert.equal(netnsNames().filter((n) => n.startsWith(`${lab.id}-`)).length, 0);
  });

  async function child(mode: 'throw' | 'wait'): Promise<{ info: { id: string; namespaces: string[]; sleepPid: number }; exit: Promise<[number | null, string | null]>; pid: number }> {
    const c = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = new Promise<[number | null, string | null]>((resolve) => c.on('exit', (code, sig) => resolve([code, sig])));
    let out = '';
    c.stderr.setEncoding('utf8').on('data', () => undefined);
    const info = await new Promise<{ id: string; namespaces: string[]; sleepPid: number }>((resolve, reject) => {
      c.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { id: string; namespaces: string[]; sleepPid: number });
      });
      void exit.then(([code]) => reject(new Error(`fixture exited (${code}) before the lab was up`)));
    });
    assert.ok(info.namespaces.every((n) => existsSync(`/run/netns/${n}`)));
    assert.ok(pidAlive(info.sleepPid));
    return { info, exit, pid: c.pid ?? 0 };
  }

  void it('an uncaught exception in the owning process still removes its lab (exit hook)', async () => {
    const { info, exit } = await child('throw');
    const [code] = await exit;
    assert.notEqual(code, 0);
    assert.deepEqual(
      info.namespaces.filter((n) => existsSync(`/run/netns/${n}`)),
      [],
    );
    assert.equal(pidAlive(info.sleepPid), false);
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    void it(`${sig} to the owning process removes its lab, and the process still dies of ${sig}`, async () => {
      const { info, exit, pid } = await child('wait');
      process.kill(pid, sig);
      const [, signal] = await exit;
      assert.equal(signal, sig);
      assert.deepEqual(
        info.namespaces.filter((n) => existsSync(`/run/netns/${n}`)),
        [],
      );
      assert.equal(pidAlive(info.sleepPid), false);
    });
  }

  void it('after SIGKILL of the owner, the next createLab sweeps its namespaces and processes', async () => {
    const { info, exit, pid } = await child('wait');
    process.kill(pid, 'SIGKILL');
    await exit;
    assert.ok(info.namespaces.every((n) => existsSync(`/run/netns/${n}`)), 'SIGKILL cannot be caught: leftovers expected');
    await withLab({ nodes: 1, name: 'sweeper' }, async () => {
      assert.deepEqual(
        info.namespaces.filter((n) => existsSync(`/run/netns/${n}`)),
        [],
      );
      // The orphaned `sleep` was killed by the sweep (it may linger as a zombie until reaped by init).
      for (let i = 0; i < 50 && pidAlive(info.sleepPid); i++) await sleep(20);
      assert.equal(pidAlive(info.sleepPid), false);
    });
  });

  after(() => {
    assert.deepEqual(
      netnsNames().filter((n) => n.startsWith(`kl${process.pid}`)),
      [],
    );
  });
});
