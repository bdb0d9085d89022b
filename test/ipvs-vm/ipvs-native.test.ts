// The addon's generic-netlink IPVS (src/net/ipvs.ts over native/src/ipvs*.cc) against a real
// IPVS kernel in the VM, every result checked with an independent reader: Debian's ipvsadm
// (-Ln, --stats --exact, --persistent-conn, --thresholds, --tun-info, -L --timeout), and
// against what the test itself expects the kernel to hold after each plan.
//
// Inside the VM a small fixture (FIXTURE below, run with `node -e`) holds one Ipvs and answers
// JSON lines: {id, method, args} -> {id, ok, value | error}. KUBELIVED_NATIVE_PATH, when set
// on the host, reaches it (to test a build other than native/build/Release).
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Forwarding, IpvsDestination, IpvsOperation, IpvsService, ServiceKey } from '../../src/ipvs/types.ts';
import type { IpvsServiceDump } from '../../src/net/ipvs.ts';
import { useVm, type Vm, type VmProcess } from './vm.ts';

const FIXTURE = String.raw`
const { Ipvs } = await import(new URL('src/net/ipvs.ts', 'file://' + process.cwd() + '/').href);
const { createInterface } = await import('node:readline');
let ipvs = new Ipvs();
const ser = (e) => ({ message: e.message, errno: e.errno, code: e.code, syscall: e.syscall, name: e.name });
const results = (rs) => rs.map((r) => (r.ok ? { ok: true } : { ok: false, error: ser(r.error) }));
const methods = {
  async apply(ops) {
    const t = performance.now();
    const rs = await ipvs.apply(ops);
    return { results: results(rs), ms: performance.now() - t };
  },
  dump: () => ipvs.dump(),
  info: () => ipvs.info(),
  getTimeouts: () => ipvs.getTimeouts(),
  setTimeouts: (t) => ipvs.setTimeouts(t),
  // Both calls made before either is awaited: the dump must see the plan.
  async applyThenDump(ops) {
    const a = ipvs.apply(ops);
    const d = ipvs.dump();
    return { results: results(await a), dump: await d };
  },
  // close() while a plan and a dump are open: both reject; a fresh Ipvs takes over.
  async closeWhileOpen(ops) {
    const a = ipvs.apply(ops).then(() => 'resolved', ser);
    const d = ipvs.dump().then(() => 'resolved', ser);
    ipvs.close();
    ipvs.close();
    const out = { apply: await a, dump: await d };
    ipvs = new Ipvs();
    return out;
  },
  // A worker thread opens its own Ipvs, starts a plan and a dump, and is terminated with both
  // open: the addon must release its socket and poll handle without calling into JS.
  async workerTerminate(ops) {
    const { Worker } = await import('node:worker_threads');
    const url = new URL('src/net/ipvs.ts', 'file://' + process.cwd() + '/').href;
    const w = new Worker(
      // An ES module, like this fixture (workers inherit --input-type=module).
      "import { parentPort, workerData } from 'node:worker_threads';" +
        'const { Ipvs } = await import(workerData.url);' +
        'const ipvs = new Ipvs();' +
        'ipvs.apply(workerData.ops).catch(() => {});' +
        'ipvs.dump().catch(() => {});' +
        "parentPort.postMessage('started');",
      { eval: true, workerData: { url, ops } },
    );
    await new Promise((res, rej) => {
      w.once('message', res);
      w.once('error', rej);
    });
    return { exitCode: await w.terminate() };
  },
};
createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, method, args } = JSON.parse(line);
  let reply;
  try {
    reply = { id, ok: true, value: await methods[method](...args) };
  } catch (e) {
    reply = { id, ok: false, error: ser(e) };
  }
  process.stdout.write(JSON.stringify(reply) + '\n');
});
process.stdout.write('ready\n');
`;

interface WireError {
  message: string;
  errno: number;
  code: string;
  syscall: string;
  name: string;
}
type WireResult = { ok: true } | { ok: false; error: WireError };
interface ApplyReply {
  results: WireResult[];
  ms: number;
}

class CallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;
  constructor(e: WireError) {
    super(e.message);
    this.errno = e.errno;
    this.code = e.code;
    this.syscall = e.syscall;
  }
}

class Fixture {
  readonly #proc: VmProcess;
  #next = 1;

  private constructor(proc: VmProcess) {
    this.#proc = proc;
  }

  static async start(vm: Vm): Promise<Fixture> {
    const env: Record<string, string> = {};
    if (process.env.KUBELIVED_NATIVE_PATH) env.KUBELIVED_NATIVE_PATH = resolve(process.env.KUBELIVED_NATIVE_PATH);
    // A sanitizer build (native/asan-test.sh's way) needs its runtime preloaded in the guest too.
    for (const name of ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS']) {
      const value = process.env[name];
      if (value) env[name] = value;
    }
    const proc = vm.spawn(['node', '--input-type=module', '-e', FIXTURE], { env, stdin: true });
    await proc.waitForLine(/^ready$/, 180_000);
    return new Fixture(proc);
  }

  async call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    this.#proc.write(JSON.stringify({ id, method, args }) + '\n');
    // A fixture that dies (a crash, a sanitizer report) fails the call at once, with its stderr.
    const died = this.#proc.exited.then((r) => {
      throw new Error(`the fixture exited (${r.code}) during ${method}:\n${r.stderr.slice(-4000)}`);
    });
    const line = await Promise.race([this.#proc.waitForLine(new RegExp(`^\\{"id":${id},`), 600_000), died]);
    const reply = JSON.parse(line) as { ok: true; value: T } | { ok: false; error: WireError };
    if (!reply.ok) throw new CallError(reply.error);
    return reply.value;
  }

  /** Applies a plan that must succeed entirely. */
  async applyOk(ops: IpvsOperation[]): Promise<ApplyReply> {
    const reply = await this.call<ApplyReply>('apply', ops);
    const failed = reply.results.flatMap((r, i) => (r.ok ? [] : [`ops[${i}]: ${r.error.message}`]));
    assert.deepEqual(failed, [], 'every operation succeeds');
    assert.equal(reply.results.length, ops.length);
    return reply;
  }

  /** What the fixture wrote to stderr (nothing, unless something went wrong). */
  get stderr(): string {
    return this.#proc.stderr;
  }

  stop(): void {
    // The VM may be gone already (useVm's after hook runs first).
    try {
      this.#proc.kill('SIGKILL');
    } catch {
      /* nothing left to stop */
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What the kernel should hold: a model the test keeps, updated with each plan it applies.

type Dest = IpvsDestination & { tunType?: 'ipip' | 'gue' | 'gre'; tunPort?: number; tunFlags?: number };

function endpoint(address: string, family: 4 | 6, port: number): string {
  return family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** ipvsadm's name of a service. */
function keyText(k: ServiceKey): string {
  if (k.fwmark !== undefined) return `FWM ${k.fwmark}${k.family === 6 ? ' IPv6' : ''}`;
  return `${k.protocol} ${endpoint(k.address, k.family, k.port)}`;
}

class Model {
  readonly services = new Map<string, { service: IpvsService; dests: Map<string, Dest> }>();

  apply(ops: IpvsOperation[]): this {
    for (const op of ops) {
      switch (op.op) {
        case 'addService':
        case 'editService': {
          const prev = this.services.get(keyText(op.service.key));
          this.services.set(keyText(op.service.key), { service: op.service, dests: prev?.dests ?? new Map<string, Dest>() });
          break;
        }
        case 'deleteService':
          this.services.delete(keyText(op.key));
          break;
        case 'addDestination':
        case 'editDestination':
          this.services.get(keyText(op.service))?.dests.set(endpoint(op.destination.address, op.destination.family, op.destination.port), op.destination);
          break;
        case 'deleteDestination':
          this.services.get(keyText(op.service))?.dests.delete(endpoint(op.destination.address, op.destination.family, op.destination.port));
          break;
      }
    }
    return this;
  }

  /** Operations deleting every service of the model. */
  teardown(): IpvsOperation[] {
    return [...this.services.values()].map(({ service }) => ({ op: 'deleteService', key: service.key }));
  }
}

const FORWARD: Record<Forwarding, string> = { NAT: 'Masq', DR: 'Route', TUN: 'Tunnel' };

function maskText(prefix: number): string {
  const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
}

/** ipvsadm's name of a service; it prints fwmarks as signed integers (0xfffffffe is -2). */
function ipvsadmKey(k: ServiceKey): string {
  return k.fwmark !== undefined ? keyText({ ...k, fwmark: k.fwmark | 0 }) : keyText(k);
}

/** The service line of `ipvsadm -Ln`, whitespace collapsed. */
function serviceLine(s: IpvsService): string {
  let line = `${ipvsadmKey(s.key)} ${s.scheduler}`;
  const names = s.scheduler === 'sh' || s.scheduler === 'mh' ? [`${s.scheduler}-fallback`, `${s.scheduler}-port`, 'flag-3'] : ['flag-1', 'flag-2', 'flag-3'];
  const set = [0x8, 0x10, 0x20].flatMap((bit, i) => (s.flags & bit ? [names[i]] : []));
  if (set.length > 0) line += ` (${set.join(',')})`;
  if (s.flags & 0x1) {
    line += ` persistent ${s.timeout}`;
    if (s.key.family === 4 && s.netmask !== 32) line += ` mask ${maskText(s.netmask)}`;
    if (s.key.family === 6 && s.netmask !== 128) line += ` mask ${s.netmask}`;
  }
  if (s.flags & 0x4) line += ' ops';
  return line;
}

type View = 'plain' | 'thresholds' | 'tun';

/** `ipvsadm -Ln` (or --thresholds, --tun-info) as the model says it must read, normalized. */
function expectedIpvsadm(model: Model, view: View = 'plain'): string[] {
  return [...model.services.values()]
    .map(({ service, dests }) => {
      const lines = [...dests.values()].map((d) => {
        const ep = endpoint(d.address, d.family, d.port);
        if (view === 'thresholds') return `-> ${ep} ${d.upperThreshold} ${d.lowerThreshold} 0 0`;
        if (view === 'tun') {
          const tun = d.forwarding === 'TUN' ? tunInfo(d) : 'n/a';
          return `-> ${ep} ${FORWARD[d.forwarding]} ${tun} ${d.weight} 0 0`;
        }
        return `-> ${ep} ${FORWARD[d.forwarding]} ${d.weight} 0 0`;
      });
      return [serviceLine(service), ...lines.sort()].join('\n');
    })
    .sort();
}

/** ipvsadm --tun-info's column: type[:port][:flags]. */
function tunInfo(d: Dest): string {
  const type = d.tunType ?? 'ipip';
  if (type === 'ipip') return 'ipip';
  const csum = (d.tunFlags ?? 0) & 0x2 ? 'r+c' : (d.tunFlags ?? 0) & 0x1 ? '+c' : '-c';
  return type === 'gue' ? `gue:${d.tunPort ?? 0}:${csum}` : `gre:${csum}`;
}

/** ipvsadm output cut into one normalized block per service: service line, sorted dest lines. */
function ipvsadmBlocks(text: string): string[] {
  const blocks: string[][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (/^(TCP|UDP|SCTP|FWM) /.test(line)) blocks.push([line]);
    else if (line.startsWith('-> ') && !line.startsWith('-> RemoteAddress')) blocks.at(-1)?.push(line);
  }
  return blocks.map(([svc, ...dests]) => [svc, ...dests.sort()].join('\n')).sort();
}

/** The configuration part of a dump, in a canonical order, for comparison with the model. */
function dumpConfig(dump: IpvsServiceDump[]): unknown[] {
  return dump
    .map((s) => ({
      key: s.key,
      scheduler: s.scheduler,
      flags: s.flags,
      timeout: s.timeout,
      netmask: s.netmask,
      destinations: s.destinations
        .map((d) => {
          const config: Partial<typeof d> = { ...d };
          delete config.activeConns;
          delete config.inactiveConns;
          delete config.persistConns;
          delete config.stats;
          return config as IpvsDestination;
        })
        .sort((a, b) => endpoint(a.address, a.family, a.port).localeCompare(endpoint(b.address, b.family, b.port))),
    }))
    .sort((a, b) => keyText(a.key).localeCompare(keyText(b.key)));
}

function modelConfig(model: Model): unknown[] {
  return [...model.services.values()]
    .map(({ service, dests }) => ({
      ...service,
      destinations: [...dests.values()]
        .map((d) => {
          const out: Record<string, unknown> = { ...d };
          // The kernel reports the encapsulation of every TUN destination, IPIP by default.
          if (d.forwarding === 'TUN') {
            out.tunType = d.tunType ?? 'ipip';
            out.tunPort = d.tunPort ?? 0;
            out.tunFlags = d.tunFlags ?? 0;
          }
          return out;
        })
        .sort((a, b) => endpoint(a.address as string, a.family as 4 | 6, a.port as number).localeCompare(endpoint(b.address as string, b.family as 4 | 6, b.port as number))),
    }))
    .sort((a, b) => keyText(a.key).localeCompare(keyText(b.key)));
}

// ---------------------------------------------------------------------------------------------

// Set in the describe below: node:test runs top-level before() hooks as soon as they are
// registered, so the VM and the fixture start there, one after the other.
let vm: () => Vm;
let fx: Fixture;

async function ipvsadm(args: string): Promise<string> {
  return vm().run(`ipvsadm ${args}`);
}

/** ipvsadm and dump() both agree with the model (and with each other). */
async function verify(model: Model, views: View[] = ['plain']): Promise<IpvsServiceDump[]> {
  for (const view of views) {
    const flag = view === 'thresholds' ? ' --thresholds' : view === 'tun' ? ' --tun-info' : '';
    assert.deepEqual(ipvsadmBlocks(await ipvsadm(`-Ln${flag}`)), expectedIpvsadm(model, view), `ipvsadm -Ln${flag}`);
  }
  const dump = await fx.call<IpvsServiceDump[]>('dump');
  assert.deepEqual(dumpConfig(dump), modelConfig(model), 'dump()');
  return dump;
}

const ALL_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'mh', 'fo', 'ovf', 'twos'];
/** The ones the guest kernel has (set by the scheduler test). */
let SCHEDULERS = ALL_SCHEDULERS;

function tcp(address: string, port: number): ServiceKey {
  return { family: address.includes(':') ? 6 : 4, protocol: 'TCP', address, port };
}

function service(key: ServiceKey, scheduler = 'rr', extra: Partial<IpvsService> = {}): IpvsService {
  return { key, scheduler, flags: 0, timeout: 0, netmask: key.family === 4 ? 32 : 128, ...extra };
}

function dest(address: string, port: number, forwarding: Forwarding = 'NAT', extra: Partial<Dest> = {}): Dest {
  return { address, family: address.includes(':') ? 6 : 4, port, forwarding, weight: 1, upperThreshold: 0, lowerThreshold: 0, ...extra };
}

describe('IPVS over generic netlink, checked with ipvsadm', { concurrency: false }, () => {
  vm = useVm();
  before(async () => {
    fx = await Fixture.start(vm());
  });
  // Every test starts from empty tables (the test clears them with ipvsadm; kubelived itself
  // never flushes). Not before the first test, which needs ip_vs unloaded.
  beforeEach(async () => {
    await vm().run(`if grep -q '^ip_vs ' /proc/modules; then ipvsadm -C; fi`);
  });
  after(() => {
    fx?.stop();
  });

  it('without IPVS every call rejects ENOENT with the modprobe hint; the next call looks again', async () => {
    assert.equal((await vm().exec(`grep -q '^ip_vs ' /proc/modules`)).code, 1, 'ip_vs is not loaded at boot');
    // The controller would load ip_vs by its alias net-pf-16-proto-16-family-IPVS: make module
    // loading fail, as on a kernel without IPVS.
    const modprobe = (await vm().run('cat /proc/sys/kernel/modprobe')).trim();
    await vm().run('echo /bin/false > /proc/sys/kernel/modprobe');
    try {
      const plan: IpvsOperation[] = [{ op: 'deleteService', key: tcp('10.10.0.1', 80) }];
      const calls = [() => fx.call('info'), () => fx.call('dump'), () => fx.call('apply', plan), () => fx.call('getTimeouts')];
      for (const call of calls) {
        await assert.rejects(call(), (e: CallError) => {
          assert.equal(e.message, 'IPVS is not available in this kernel (modprobe ip_vs)');
          assert.equal(e.errno, 2);
          assert.equal(e.code, 'ENOENT');
          assert.equal(e.syscall, 'CTRL_CMD_GETFAMILY');
          return true;
        });
      }
    } finally {
      await vm().run(`echo ${modprobe} > /proc/sys/kernel/modprobe`);
    }
    assert.equal((await vm().exec(`grep -q '^ip_vs ' /proc/modules`)).code, 1);
    // The same Ipvs looks again, and this time the kernel loads ip_vs for it.
    const info = await fx.call<{ version: string; versionCode: number; connTableSize: number }>('info');
    await vm().run(`grep -q '^ip_vs ' /proc/modules`);
    const header = /IP Virtual Server version (\d+\.\d+\.\d+) \(size=(\d+)\)/.exec(await ipvsadm('-Ln'));
    assert.ok(header);
    assert.deepEqual(info, { version: header[1], versionCode: 0x010201, connTableSize: Number(header[2]) });
    assert.deepEqual(await fx.call('dump'), []);
  });

  it('timeouts: read and set, as ipvsadm -L --timeout sees them', async () => {
    const read = async () => {
      const m = /Timeout \(tcp tcpfin udp\): (\d+) (\d+) (\d+)/.exec(await ipvsadm('-L --timeout'));
      assert.ok(m);
      return { tcp: Number(m[1]), tcpFin: Number(m[2]), udp: Number(m[3]) };
    };
    const before = await fx.call('getTimeouts');
    assert.deepEqual(before, await read());
    await fx.call('setTimeouts', { tcp: 1000, udp: 77 });
    assert.deepEqual(await read(), { tcp: 1000, tcpFin: (before as { tcpFin: number }).tcpFin, udp: 77 });
    assert.deepEqual(await fx.call('getTimeouts'), await read());
    await fx.call('setTimeouts', before);
    assert.deepEqual(await read(), before);
  });

  it('every scheduler the kernel has, IPv4 and IPv6: add, edit (scheduler change), delete', async () => {
    const present = (
      await vm().run(`for s in ${ALL_SCHEDULERS.join(' ')}; do modinfo -F filename ip_vs_$s >/dev/null 2>&1 && echo $s; done; true`)
    )
      .trim()
      .split('\n');
    // Debian's 6.1 kernel predates twos (Linux 6.2); every other one must be there.
    assert.deepEqual(
      ALL_SCHEDULERS.filter((s) => !present.includes(s)),
      ALL_SCHEDULERS.filter((s) => s === 'twos' && !present.includes(s)),
    );
    SCHEDULERS = present;
    const missing = ALL_SCHEDULERS.filter((s) => !present.includes(s));
    for (const sched of missing) {
      const { results } = await fx.call<ApplyReply>('apply', [{ op: 'addService', service: service(tcp('10.20.9.1', 80), sched) }]);
      assert.deepEqual(
        results.map((r) => !r.ok && r.error.message),
        [`IPVS_CMD_NEW_SERVICE TCP 10.20.9.1:80: No such file or directory (no scheduler "${sched}" in this kernel)`],
      );
    }

    const model = new Model();
    const add: IpvsOperation[] = [];
    SCHEDULERS.forEach((sched, i) => {
      for (const key of [tcp(`10.20.0.${i + 1}`, 80), tcp(`2001:db8:20::${i + 1}`, 80)]) {
        add.push({ op: 'addService', service: service(key, sched) });
        const d = key.family === 4 ? dest(`10.20.1.${i + 1}`, 8080) : dest(`2001:db8:21::${i + 1}`, 8080);
        add.push({ op: 'addDestination', service: key, destination: d });
      }
    });
    await fx.applyOk(add);
    await verify(model.apply(add));
    assert.equal((await ipvsadm('-Ln')).match(/^TCP/gm)?.length, SCHEDULERS.length * 2);

    // Every service moves to the next scheduler.
    const edit: IpvsOperation[] = [...model.services.values()].map(({ service: s }) => ({
      op: 'editService',
      service: { ...s, scheduler: SCHEDULERS[(SCHEDULERS.indexOf(s.scheduler) + 1) % SCHEDULERS.length] ?? 'rr' },
    }));
    await fx.applyOk(edit);
    await verify(model.apply(edit));

    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
    assert.deepEqual(ipvsadmBlocks(await ipvsadm('-Ln')), []);
  });

  it('scheduler flags (sh, mh, generic), one-packet, persistence timeout and netmask', async () => {
    const model = new Model();
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(tcp('10.30.0.1', 80), 'sh', { flags: 0x08 | 0x10 }) },
      { op: 'addService', service: service(tcp('10.30.0.2', 80), 'sh', { flags: 0x10 }) },
      { op: 'addService', service: service(tcp('10.30.0.3', 80), 'mh', { flags: 0x08 | 0x10 }) },
      { op: 'addService', service: service(tcp('10.30.0.4', 80), 'mh', { flags: 0x08 }) },
      { op: 'addService', service: service(tcp('10.30.0.5', 80), 'rr', { flags: 0x08 }) },
      { op: 'addService', service: service(tcp('10.30.0.6', 80), 'wrr', { flags: 0x1, timeout: 300, netmask: 24 }) },
      { op: 'addService', service: service(tcp('10.30.0.7', 0), 'lc', { flags: 0x1, timeout: 3600, netmask: 32 }) },
      { op: 'addService', service: service(tcp('10.30.0.8', 80), 'rr', { flags: 0x1, timeout: 1, netmask: 0 }) },
      { op: 'addService', service: service(tcp('2001:db8:30::1', 443), 'sh', { flags: 0x1 | 0x08, timeout: 600, netmask: 64 }) },
      { op: 'addService', service: service(tcp('2001:db8:30::2', 443), 'rr', { flags: 0x1, timeout: 60, netmask: 128 }) },
      { op: 'addService', service: service({ family: 4, protocol: 'UDP', address: '10.30.0.9', port: 53 }, 'rr', { flags: 0x4 }) },
      { op: 'addService', service: service({ family: 6, protocol: 'UDP', address: '2001:db8:30::3', port: 53 }, 'sh', { flags: 0x4 | 0x10 }) },
      { op: 'addService', service: service({ family: 4, protocol: 'SCTP', address: '10.30.0.10', port: 3868 }, 'wlc') },
    ];
    await fx.applyOk(ops);
    await verify(model.apply(ops));
    // Changing persistence and flags in place.
    const edit: IpvsOperation[] = [
      { op: 'editService', service: service(tcp('10.30.0.1', 80), 'sh', { flags: 0 }) },
      { op: 'editService', service: service(tcp('10.30.0.6', 80), 'wrr', { flags: 0x1, timeout: 30, netmask: 16 }) },
      { op: 'editService', service: service(tcp('10.30.0.7', 0), 'lc') },
      { op: 'editService', service: service(tcp('2001:db8:30::2', 443), 'mh', { flags: 0x1 | 0x08 | 0x10, timeout: 61, netmask: 48 }) },
    ];
    await fx.applyOk(edit);
    await verify(model.apply(edit));
    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
  });

  it('fwmark services, IPv4 and IPv6, with destinations', async () => {
    const model = new Model();
    const f4: ServiceKey = { family: 4, fwmark: 7 };
    const f6: ServiceKey = { family: 6, fwmark: 7 };
    const big: ServiceKey = { family: 4, fwmark: 0xfffffffe };
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(f4, 'wrr', { flags: 0x1, timeout: 120, netmask: 24 }) },
      { op: 'addService', service: service(f6, 'sh', { flags: 0x08 }) },
      { op: 'addService', service: service(big, 'rr') },
      { op: 'addDestination', service: f4, destination: dest('10.40.1.1', 0, 'DR', { weight: 3 }) },
      { op: 'addDestination', service: f4, destination: dest('10.40.1.2', 8080, 'NAT', { weight: 2 }) },
      { op: 'addDestination', service: f6, destination: dest('2001:db8:40::1', 0, 'DR') },
      { op: 'addDestination', service: big, destination: dest('10.40.1.3', 0, 'TUN') },
    ];
    await fx.applyOk(ops);
    await verify(model.apply(ops));
    const more: IpvsOperation[] = [
      { op: 'editDestination', service: f4, destination: dest('10.40.1.1', 0, 'DR', { weight: 0 }) },
      { op: 'deleteDestination', service: f6, destination: { address: '2001:db8:40::1', family: 6, port: 0 } },
      { op: 'deleteService', key: big },
    ];
    await fx.applyOk(more);
    await verify(model.apply(more));
    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
  });

  it('NAT, DR and TUN (IPIP, GUE, GRE, mixed family), weights, thresholds; edit and delete', async () => {
    const model = new Model();
    const v4 = tcp('10.50.0.1', 80);
    const v6 = tcp('2001:db8:50::1', 80);
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(v4, 'wlc') },
      { op: 'addService', service: service(v6, 'wrr') },
      { op: 'addDestination', service: v4, destination: dest('10.50.1.1', 8080, 'NAT', { weight: 5, upperThreshold: 100, lowerThreshold: 10 }) },
      { op: 'addDestination', service: v4, destination: dest('10.50.1.2', 80, 'DR', { weight: 2147483647 }) },
      { op: 'addDestination', service: v4, destination: dest('10.50.1.3', 80, 'TUN') },
      { op: 'addDestination', service: v4, destination: dest('10.50.1.4', 80, 'TUN', { tunType: 'gue', tunPort: 6080, tunFlags: 0x1 }) },
      { op: 'addDestination', service: v4, destination: dest('10.50.1.5', 80, 'TUN', { tunType: 'gre', tunFlags: 0x0 }) },
      // An IPv6 real server behind an IPv4 service: only tunnelling can do that.
      { op: 'addDestination', service: v4, destination: dest('2001:db8:51::6', 80, 'TUN', { weight: 4 }) },
      { op: 'addDestination', service: v6, destination: dest('2001:db8:51::1', 8080, 'NAT', { upperThreshold: 2147483647, lowerThreshold: 1 }) },
      { op: 'addDestination', service: v6, destination: dest('2001:db8:51::2', 80, 'DR', { weight: 0 }) },
      { op: 'addDestination', service: v6, destination: dest('2001:db8:51::3', 80, 'TUN') },
    ];
    await fx.applyOk(ops);
    await verify(model.apply(ops), ['plain', 'thresholds', 'tun']);

    const edit: IpvsOperation[] = [
      { op: 'editDestination', service: v4, destination: dest('10.50.1.1', 8080, 'NAT', { weight: 0, upperThreshold: 0, lowerThreshold: 0 }) },
      { op: 'editDestination', service: v4, destination: dest('10.50.1.2', 80, 'TUN', { weight: 9 }) },
      { op: 'editDestination', service: v4, destination: dest('10.50.1.4', 80, 'TUN', { tunType: 'gue', tunPort: 7000, tunFlags: 0x2 }) },
      { op: 'editDestination', service: v6, destination: dest('2001:db8:51::2', 80, 'NAT', { weight: 7 }) },
      { op: 'deleteDestination', service: v4, destination: { address: '10.50.1.3', family: 4, port: 80 } },
      { op: 'deleteDestination', service: v4, destination: { address: '2001:db8:51::6', family: 6, port: 80 } },
      { op: 'deleteDestination', service: v6, destination: { address: '2001:db8:51::3', family: 6, port: 80 } },
    ];
    await fx.applyOk(edit);
    await verify(model.apply(edit), ['plain', 'thresholds', 'tun']);
    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
  });

  it('counters from real packets: dump() agrees with ipvsadm --stats --exact and --persistent-conn', async () => {
    await vm().run(
      'ip link add kl0 type dummy && ip link set kl0 up && ip addr add 10.60.0.1/32 dev kl0 && ip addr add 10.60.1.1/24 dev kl0',
    );
    const key = tcp('10.60.0.1', 80);
    const model = new Model();
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(key, 'wrr', { flags: 0x1, timeout: 300, netmask: 32 }) },
      { op: 'addDestination', service: key, destination: dest('10.60.1.2', 80, 'DR', { weight: 1 }) },
    ];
    await fx.applyOk(ops);
    model.apply(ops);
    // A local connection attempt: IPVS schedules it (a connection and a persistence template on
    // the real server), the SYN goes out the dummy and nobody answers.
    await vm().exec(`timeout 3 bash -c 'echo > /dev/tcp/10.60.0.1/80'`);
    const row = (st: { conns: number; inPkts: number; outPkts: number; inBytes: number; outBytes: number }) =>
      `${st.conns} ${st.inPkts} ${st.outPkts} ${st.inBytes} ${st.outBytes}`;
    // The kernel exports counters its rate estimator copies out about every 2 s, so a reader a
    // moment later may see newer ones: compare a dump with ipvsadm readings on both sides of it
    // that agree with each other.
    for (let attempt = 1; ; attempt++) {
      const statsBefore = ipvsadmBlocks(await ipvsadm('-Ln --stats --exact'));
      const persistBefore = ipvsadmBlocks(await ipvsadm('-Ln --persistent-conn'));
      const dump = await fx.call<IpvsServiceDump[]>('dump');
      const stats = ipvsadmBlocks(await ipvsadm('-Ln --stats --exact'));
      const persist = ipvsadmBlocks(await ipvsadm('-Ln --persistent-conn'));
      const stable = JSON.stringify([statsBefore, persistBefore]) === JSON.stringify([stats, persist]);
      if (!stable && attempt < 10) continue;
      assert.ok(stable, 'ipvsadm readings settle');
      const [svc] = dump;
      assert.ok(svc);
      const [d] = svc.destinations;
      assert.ok(d);
      assert.ok(svc.stats.conns >= 1 && svc.stats.inPkts >= 1 && svc.stats.inBytes > 0, JSON.stringify(svc.stats));
      assert.deepEqual(stats, [`TCP 10.60.0.1:80 ${row(svc.stats)}\n-> 10.60.1.2:80 ${row(d.stats)}`]);
      assert.ok(d.persistConns >= 1 && d.activeConns + d.inactiveConns >= 1, JSON.stringify(d));
      assert.deepEqual(persist, [
        `TCP 10.60.0.1:80 wrr persistent 300\n-> 10.60.1.2:80 ${d.weight} ${d.persistConns} ${d.activeConns} ${d.inactiveConns}`,
      ]);
      break;
    }
    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
    await vm().run('ip link del kl0');
  });

  it('errors name the object and errno; the operations after a failure still run', async () => {
    const s1 = tcp('10.70.0.1', 80);
    const s9 = tcp('10.70.0.9', 80);
    const d1 = dest('10.70.1.1', 80);
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(s1) },
      { op: 'addService', service: service(s1) },
      { op: 'addDestination', service: s1, destination: d1 },
      { op: 'addDestination', service: s1, destination: d1 },
      { op: 'addDestination', service: s9, destination: d1 },
      { op: 'editDestination', service: s1, destination: dest('10.70.1.2', 80) },
      { op: 'deleteDestination', service: s1, destination: { address: '10.70.1.2', family: 4, port: 80 } },
      { op: 'editService', service: service(s9) },
      { op: 'deleteService', key: s9 },
      { op: 'addService', service: service(tcp('10.70.0.2', 80), 'nosuch') },
      { op: 'addDestination', service: s1, destination: dest('2001:db8:70::1', 80, 'NAT') },
      { op: 'addService', service: service({ family: 6, fwmark: 70 }) },
    ];
    const { results } = await fx.call<ApplyReply>('apply', ops);
    const summary = results.map((r) => (r.ok ? 'ok' : `${r.error.code} ${r.error.syscall}: ${r.error.message}`));
    assert.deepEqual(summary, [
      'ok',
      'EEXIST IPVS_CMD_NEW_SERVICE: IPVS_CMD_NEW_SERVICE TCP 10.70.0.1:80: File exists (service exists)',
      'ok',
      'EEXIST IPVS_CMD_NEW_DEST: IPVS_CMD_NEW_DEST TCP 10.70.0.1:80 -> 10.70.1.1:80: File exists (destination exists)',
      'ESRCH IPVS_CMD_NEW_DEST: IPVS_CMD_NEW_DEST TCP 10.70.0.9:80 -> 10.70.1.1:80: No such process (no such service)',
      'ENOENT IPVS_CMD_SET_DEST: IPVS_CMD_SET_DEST TCP 10.70.0.1:80 -> 10.70.1.2:80: No such file or directory (no such destination)',
      'ENOENT IPVS_CMD_DEL_DEST: IPVS_CMD_DEL_DEST TCP 10.70.0.1:80 -> 10.70.1.2:80: No such file or directory (no such destination)',
      'ESRCH IPVS_CMD_SET_SERVICE: IPVS_CMD_SET_SERVICE TCP 10.70.0.9:80: No such process (no such service)',
      'ESRCH IPVS_CMD_DEL_SERVICE: IPVS_CMD_DEL_SERVICE TCP 10.70.0.9:80: No such process (no such service)',
      'ENOENT IPVS_CMD_NEW_SERVICE: IPVS_CMD_NEW_SERVICE TCP 10.70.0.2:80: No such file or directory (no scheduler "nosuch" in this kernel)',
      'EINVAL IPVS_CMD_NEW_DEST: IPVS_CMD_NEW_DEST TCP 10.70.0.1:80 -> [2001:db8:70::1]:80: Invalid argument',
      'ok',
    ]);
    assert.ok(results.every((r) => r.ok || r.error.errno > 0));
    const model = new Model().apply([ops[0], ops[2], ops[11]] as IpvsOperation[]);
    await verify(model);
    const teardown = model.teardown();
    await fx.applyOk(teardown);
    await verify(model.apply(teardown));
  });

  it('a foreign service made with ipvsadm is left untouched by plans about other services', async () => {
    await vm().run(
      [
        'ipvsadm -A -t 10.99.0.1:443 -s lc -p 77',
        'ipvsadm -a -t 10.99.0.1:443 -r 10.99.1.1:443 -m -w 7 -x 50 -y 5',
        'ipvsadm -a -t 10.99.0.1:443 -r 10.99.1.2:443 -g -w 3',
        'ipvsadm -A -f 99 -6 -s sh -b sh-port',
        'ipvsadm -a -f 99 -6 -r [2001:db8:99::1]:0 -i',
      ].join(' && '),
    );
    const foreign = (await ipvsadm('-Sn')).trim().split('\n').sort();
    assert.equal(foreign.length, 5);

    // Our plans: add services next to it (same address, other port; same fwmark, other family),
    // edit, drain, delete.
    const model = new Model();
    const mine = tcp('10.99.0.1', 444);
    const fwm: ServiceKey = { family: 4, fwmark: 99 };
    const plans: IpvsOperation[][] = [
      [
        { op: 'addService', service: service(mine, 'rr') },
        { op: 'addService', service: service(fwm, 'rr') },
        { op: 'addDestination', service: mine, destination: dest('10.99.1.1', 443) },
        { op: 'addDestination', service: fwm, destination: dest('10.99.1.2', 0, 'DR') },
      ],
      [
        { op: 'editService', service: service(mine, 'lc', { flags: 0x1, timeout: 77, netmask: 32 }) },
        { op: 'editDestination', service: mine, destination: dest('10.99.1.1', 443, 'NAT', { weight: 0 }) },
      ],
      [
        { op: 'deleteDestination', service: mine, destination: { address: '10.99.1.1', family: 4, port: 443 } },
        { op: 'deleteService', key: mine },
        { op: 'deleteService', key: fwm },
      ],
    ];
    for (const plan of plans) {
      await fx.applyOk(plan);
      model.apply(plan);
      const saved = (await ipvsadm('-Sn')).trim().split('\n').filter(Boolean);
      for (const line of foreign) assert.ok(saved.includes(line), `foreign rule survives: ${line}`);
      const dump = await fx.call<IpvsServiceDump[]>('dump');
      const ours = dump.filter((s) => [...model.services.keys()].includes(keyText(s.key)));
      assert.deepEqual(dumpConfig(ours), modelConfig(model));
    }
    // The dump reports the foreign services faithfully too.
    const dump = await fx.call<IpvsServiceDump[]>('dump');
    const lc = dump.find((s) => keyText(s.key) === 'TCP 10.99.0.1:443');
    assert.deepEqual(
      lc && { scheduler: lc.scheduler, flags: lc.flags, timeout: lc.timeout, netmask: lc.netmask, dests: lc.destinations.map((d) => `${d.address} ${d.forwarding} ${d.weight} ${d.upperThreshold} ${d.lowerThreshold}`).sort() },
      { scheduler: 'lc', flags: 0x1, timeout: 77, netmask: 32, dests: ['10.99.1.1 NAT 7 50 5', '10.99.1.2 DR 3 0 0'] },
    );
    const f6 = dump.find((s) => keyText(s.key) === 'FWM 99 IPv6');
    assert.deepEqual(f6 && { scheduler: f6.scheduler, flags: f6.flags, dests: f6.destinations.map((d) => `${d.address} ${d.port} ${d.forwarding}`) }, {
      scheduler: 'sh',
      flags: 0x10,
      dests: ['2001:db8:99::1 0 TUN'],
    });
    await vm().run('ipvsadm -D -t 10.99.0.1:443 && ipvsadm -D -f 99 -6');
    assert.deepEqual(await fx.call('dump'), []);
  });

  it('a large plan in one apply: 300 services x 10 real servers, pipelined past the window', async () => {
    const ops: IpvsOperation[] = [];
    for (let s = 0; s < 300; s++) {
      const key = tcp(`10.${100 + (s >> 8)}.${s & 0xff}.1`, 80);
      ops.push({ op: 'addService', service: service(key, 'wrr') });
      for (let d = 0; d < 10; d++) {
        ops.push({ op: 'addDestination', service: key, destination: dest(`10.200.${s & 0xff}.${d + 1}`, 8000 + (s >> 8), 'NAT', { weight: d + 1 }) });
      }
    }
    const model = new Model().apply(ops);
    const added = await fx.applyOk(ops);
    const text = await ipvsadm('-Ln');
    assert.equal(text.match(/^TCP/gm)?.length, 300);
    assert.equal(text.match(/^ {2}->/gm)?.length, 3000 + 1); // + the header line
    assert.deepEqual(ipvsadmBlocks(text), expectedIpvsadm(model));
    const dump = await fx.call<IpvsServiceDump[]>('dump');
    assert.deepEqual(dumpConfig(dump), modelConfig(model));
    // One change among 3,000 destinations.
    const one: IpvsOperation[] = [{ op: 'editDestination', service: tcp('10.100.7.1', 80), destination: dest('10.200.7.3', 8000, 'NAT', { weight: 33 }) }];
    const changed = await fx.applyOk(one);
    model.apply(one);
    assert.match(await ipvsadm('-Ln -t 10.100.7.1:80'), /10\.200\.7\.3:8000\s+Masq\s+33\s/);
    const removed = await fx.applyOk(model.teardown());
    assert.deepEqual(await fx.call('dump'), []);
    console.log(
      `# in the VM: ${ops.length} operations applied in ${added.ms.toFixed(0)} ms, one change in ${changed.ms.toFixed(2)} ms, ` +
        `300 services deleted in ${removed.ms.toFixed(0)} ms`,
    );
  });

  it('calls are served in order: a dump made right after a plan sees it; close() rejects what is open', async () => {
    const key = tcp('10.80.0.1', 80);
    const ops: IpvsOperation[] = [
      { op: 'addService', service: service(key) },
      ...Array.from({ length: 50 }, (_, i): IpvsOperation => ({ op: 'addDestination', service: key, destination: dest(`10.80.1.${i + 1}`, 80) })),
    ];
    const both = await fx.call<{ results: WireResult[]; dump: IpvsServiceDump[] }>('applyThenDump', ops);
    assert.ok(both.results.every((r) => r.ok));
    assert.equal(both.dump[0]?.destinations.length, 50);

    // A plan bigger than what the apply() and dump() calls carry out before returning (each
    // drives the socket for up to 2,048 answers), so part of it is still open at close().
    const big: IpvsOperation[] = Array.from({ length: 10000 }, (_, i): IpvsOperation => ({
      op: 'addDestination',
      service: key,
      destination: dest(`10.81.${Math.floor(i / 250)}.${(i % 250) + 1}`, 80),
    }));
    const closed = await fx.call<{ apply: WireError | string; dump: WireError | string }>('closeWhileOpen', big);
    for (const r of [closed.apply, closed.dump]) {
      assert.equal(typeof r, 'object', `rejected: ${JSON.stringify(r)}`);
      assert.equal((r as WireError).code, 'ECANCELED');
      assert.match((r as WireError).message, /Ipvs closed/);
    }
    // The new Ipvs works; whatever part of the plan the kernel carried out is visible.
    const dump = await fx.call<IpvsServiceDump[]>('dump');
    assert.equal(dump.length, 1);
    assert.ok((dump[0]?.destinations.length ?? 0) >= 50);
    await fx.applyOk([{ op: 'deleteService', key }]);
    assert.deepEqual(await fx.call('dump'), []);
  });

  it('a worker thread terminated with a plan in flight releases its socket; the kernel keeps what it did', async () => {
    const key = tcp('10.90.0.1', 80);
    await fx.applyOk([{ op: 'addService', service: service(key) }]);
    const ops: IpvsOperation[] = Array.from({ length: 10000 }, (_, i): IpvsOperation => ({
      op: 'addDestination',
      service: key,
      destination: dest(`10.91.${Math.floor(i / 250)}.${(i % 250) + 1}`, 80),
    }));
    const { exitCode } = await fx.call<{ exitCode: number }>('workerTerminate', ops);
    assert.equal(exitCode, 1); // terminated
    const dump = await fx.call<IpvsServiceDump[]>('dump');
    assert.equal(dump.length, 1);
    const n = dump[0]?.destinations.length ?? 0;
    assert.ok(n > 0 && n <= 10000, `${n} destinations`);
    await fx.applyOk([{ op: 'deleteService', key }]);
  });

  it('the fixture wrote nothing to stderr (no warnings, no sanitizer reports)', () => {
    assert.equal(fx.stderr, '');
  });
});
