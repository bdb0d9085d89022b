// The native addon (native/, through src/net) against the real kernel: two namespaces joined
// by one veth pair, every packet observed on the far side.
//
//   kl<pid>a  eth0 02:6b:6c:00:00:0a  198.18.0.1/24  2001:2::1/64  fe80::6b:6cff:fe00:a
//   kl<pid>b  eth0 02:6b:6c:00:00:0b  198.18.0.2/24  2001:2::2/64  fe80::6b:6cff:fe00:b
//
// Code that must run inside a namespace runs as a child (fixtures/native-rpc.ts,
// fixtures/native-worker.ts) speaking JSON lines; captures are tcpdump's pcap output, parsed
// here. KUBELIVED_NATIVE_PATH (native/asan-test.sh) reaches the children through the
// environment.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

const RPC_FIXTURE = new URL('./fixtures/native-rpc.ts', import.meta.url).pathname;
const WORKER_FIXTURE = new URL('./fixtures/native-worker.ts', import.meta.url).pathname;

const A = `kl${process.pid}a`;
const B = `kl${process.pid}b`;
const MAC_A = '02:6b:6c:00:00:0a';
const MAC_B = '02:6b:6c:00:00:0b';
const LL_A = 'fe80::6b:6cff:fe00:a';
const LL_B = 'fe80::6b:6cff:fe00:b';

// VRRPv3 adverts (test/vectors): VRID 51, priority 150, interval 100 cs, VIP 198.18.0.100 /
// 2001:2::100. The sockets carry bytes and check nothing; the checksum is only realistic.
const ADVERT4 = '313396010064cb4dc6120064';
const ADVERT6 = '3133960100640000' + '20010002000000000000000000000100';

/** Every child started here, so after() can stop what a failed test left running. */
const children = new Set<ChildProcess>();

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd = '', ...args] = argv;
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (child.stdin) {
      // A child that exits without reading all of it shows in its exit code, not as EPIPE here.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
  });
}

async function ip(...args: string[]): Promise<string> {
  const r = await run(['ip', ...args]);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  valid_life_time: number;
  preferred_life_time: number;
  nodad?: boolean;
  tentative?: boolean;
}

async function ipAddrs(ns: string): Promise<IpAddrInfo[]> {
  const links = JSON.parse(await ip('-n', ns, '-j', 'addr', 'show', 'dev', 'eth0')) as { addr_info: IpAddrInfo[] }[];
  return links.flatMap((l) => l.addr_info);
}

async function ipAddr(ns: string, address: string): Promise<IpAddrInfo | undefined> {
  return (await ipAddrs(ns)).find((a) => a.local === address);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** How a fixture reports an error: the JS error's own fields. */
interface ErrorJson {
  name?: string;
  message: string;
  code?: string;
  errno?: number;
  syscall?: string;
}

interface Line {
  id?: number;
  ok?: boolean;
  value?: unknown;
  error?: ErrorJson;
  event?: string;
  [key: string]: unknown;
}

/**
 * A netlink error without the kernel's extended-ack explanation, which the addon appends in
 * parentheses when there is one ("File exists (ipv4: Address already assigned)"); its wording
 * varies between kernel versions.
 */
function kernelError(e: ErrorJson): ErrorJson {
  return { ...e, message: e.message.replace(/ \([^()]*\)$/, '') };
}

/** A fixtures/native-rpc.ts child in a namespace. */
class Rpc {
  readonly child: ChildProcess;
  readonly events: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';
  #next = 1;
  readonly #pending = new Map<number, { resolve: (l: Line) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Set<() => void>();

  private constructor(ns: string) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, RPC_FIXTURE], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    // Writes to a fixture that died fail with EPIPE; its exit rejects the pending calls.
    this.child.stdin?.on('error', () => {});
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as Line;
      if (line.id !== undefined) {
        this.#pending.get(line.id)?.resolve(line);
        this.#pending.delete(line.id);
      } else {
        this.events.push(line);
        for (const listener of this.#listeners) listener();
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        children.delete(this.child);
        for (const p of this.#pending.values()) p.reject(new Error(`fixture exited (${code ?? signal}): ${this.stderr}`));
        this.#pending.clear();
        for (const listener of this.#listeners) listener();
        resolve({ code, signal });
      });
    });
  }

  static async start(ns: string): Promise<Rpc> {
    const rpc = new Rpc(ns);
    await rpc.waitEvent((e) => e.event === 'ready', 10_000);
    return rpc;
  }

  request(op: string, args: object = {}): Promise<Line> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.stdin?.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  async call<T = unknown>(op: string, args: object = {}): Promise<T> {
    const reply = await this.request(op, args);
    if (!reply.ok) throw new Error(`${op} failed: ${JSON.stringify(reply.error)}`);
    return reply.value as T;
  }

  /** The error an op must fail with. */
  async fail(op: string, args: object = {}): Promise<ErrorJson> {
    const reply = await this.request(op, args);
    assert.equal(reply.ok, false, `${op} ${JSON.stringify(args)} should fail, got ${JSON.stringify(reply.value)}`);
    return reply.error!;
  }

  /** Index of the next event, for waitEvent's `from`. */
  mark(): number {
    return this.events.length;
  }

  waitEvent(match: (e: Line) => boolean, timeoutMs: number, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.events.slice(from).find(match);
        if (found) {
          done();
          resolve(found);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`fixture exited while waiting for an event: ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching event within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(from))}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Ends stdin: the fixture closes everything and must then exit by itself, with code 0. */
  async close(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), 5000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    assert.equal(signal, null, `fixture killed by ${signal} (still running 5 s after stdin closed?): ${this.stderr}`);
    assert.equal(code, 0, `fixture exit code: ${this.stderr}`);
    assert.equal(this.stderr, '', 'fixture wrote to stderr');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) {
      process.kill(this.child.pid, 'SIGKILL');
    }
  }
}

/** tcpdump in a namespace writing pcap to stdout; frames are parsed as they come. */
class Capture {
  readonly frames: Buffer[] = [];
  readonly #child: ChildProcess;
  #buffer = Buffer.alloc(0);
  #headerSeen = false;

  private constructor(ns: string, filter: string[]) {
    this.#child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'eth0', '-n', '-U', '--immediate-mode', '-w', '-', ...filter], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(this.#child);
    this.#child.on('exit', () => children.delete(this.#child));
    this.#child.stdout!.on('data', (d: Buffer) => this.#parse(d));
  }

  static async start(ns: string, filter: string[]): Promise<Capture> {
    const capture = new Capture(ns, filter);
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      capture.#child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('listening on')) resolve();
      });
      capture.#child.on('exit', () => reject(new Error(`tcpdump exited: ${stderr}`)));
    });
    return capture;
  }

  #parse(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    if (!this.#headerSeen) {
      if (this.#buffer.length < 24) return;
      assert.equal(this.#buffer.readUInt32LE(0), 0xa1b2c3d4, 'pcap magic');
      this.#buffer = this.#buffer.subarray(24);
      this.#headerSeen = true;
    }
    while (this.#buffer.length >= 16) {
      const len = this.#buffer.readUInt32LE(8);
      if (this.#buffer.length < 16 + len) return;
      this.frames.push(Buffer.from(this.#buffer.subarray(16, 16 + len)));
      this.#buffer = this.#buffer.subarray(16 + len);
    }
  }

  async waitFrames(count: number, timeoutMs: number): Promise<Buffer[]> {
    return waitFor(`${count} captured frames`, timeoutMs, () =>
      Promise.resolve(this.frames.length >= count ? this.frames.slice(0, count) : undefined),
    );
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null || !this.#child.pid) return;
    const exited = new Promise((resolve) => this.#child.on('exit', resolve));
    process.kill(this.#child.pid, 'SIGTERM');
    await exited;
  }
}

function mac(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** RFC 5952 text of 16 address bytes (as inet_ntop writes it). */
function ipv6(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let best = { start: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { start: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.len).join(':')}`;
}

async function cleanupNamespaces(): Promise<void> {
  for (const child of children) if (child.pid && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  for (const ns of [A, B]) await run(['ip', 'netns', 'del', ns]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Namespaces of an earlier run of this file that was killed before its after() hook (a
 * SIGKILL, a timeout): kl<pid>a / kl<pid>b whose pid is gone. Their fixtures exit by
 * themselves once their stdin (our pipe) closes.
 */
async function sweepStaleNamespaces(): Promise<void> {
  const list = await run(['ip', 'netns', 'list']);
  for (const [, name, pid] of list.stdout.matchAll(/^(kl(\d+)[ab])\b/gm)) {
    if (name && Number(pid) !== process.pid && !pidAlive(Number(pid))) await run(['ip', 'netns', 'del', name]);
  }
}

before(async () => {
  await sweepStaleNamespaces();
  await cleanupNamespaces();
  await ip('netns', 'add', A);
  await ip('netns', 'add', B);
  await ip('-n', A, 'link', 'add', 'eth0', 'address', MAC_A, 'type', 'veth', 'peer', 'name', 'eth0', 'address', MAC_B, 'netns', B);
  for (const [ns, n] of [[A, 1], [B, 2]] as const) {
    await ip('-n', ns, 'addr', 'add', `198.18.0.${n}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'addr', 'add', `2001:2::${n}/64`, 'dev', 'eth0', 'nodad');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
  }
  // DAD stays on in these namespaces (the VIP tests rely on it); wait for the link-locals.
  for (const [ns, ll] of [[A, LL_A], [B, LL_B]] as const) {
    await waitFor(`${ll} usable in ${ns}`, 10_000, async () => {
      const a = await ipAddr(ns, ll);
      return a && !a.tentative ? a : undefined;
    });
  }
});

after(cleanupNamespaces);

describe('VrrpSocket', () => {
  async function exchange(opts: {
    family: 4 | 6;
    multicast: boolean;
    payload: string;
    dst: string;
    src: string;
  }): Promise<{ received: Line; ifindexB: number; a: Rpc; b: Rpc }> {
    const a = await Rpc.start(A);
    const b = await Rpc.start(B);
    const options = { family: opts.family, ifname: 'eth0', multicast: opts.multicast };
    const ifindexB = await b.call<number>('vrrpOpen', { name: 's', options });
    await a.call('vrrpOpen', { name: 's', options });
    await a.call('vrrpSend', { name: 's', payload: opts.payload, dst: opts.dst, src: opts.src });
    const received = await b.waitEvent((e) => e.event === 'vrrp', 3000);
    return { received, ifindexB, a, b };
  }

  it('IPv4 multicast: the advert reaches B with TTL 255, its source, 224.0.0.18 and its bytes; A does not hear itself', async (t) => {
    const capture = await Capture.start(B, ['ip', 'proto', '112']);
    t.after(() => capture.stop());
    const { received, ifindexB, a, b } = await exchange({ family: 4, multicast: true, payload: ADVERT4, dst: '224.0.0.18', src: '198.18.0.1' });
    t.after(() => (a.kill(), b.kill()));
    assert.deepEqual(received.message, { payload: ADVERT4, src: '198.18.0.1', dst: '224.0.0.18', ttl: 255, ifindex: ifindexB });

    // On the wire: keepalived's framing (LAB-NOTES): multicast MAC, TOS 0xc0, DF clear.
    const [frame] = await capture.waitFrames(1, 3000);
    assert.ok(frame);
    assert.equal(mac(frame.subarray(0, 6)), '01:00:5e:00:00:12');
    assert.equal(mac(frame.subarray(6, 12)), MAC_A);
    const ipHeader = frame.subarray(14);
    assert.equal(ipHeader[1], 0xc0, 'TOS');
    assert.equal(ipHeader.readUInt16BE(6) & 0x4000, 0, 'DF clear');
    assert.equal(ipHeader[8], 255, 'TTL');
    assert.equal(ipHeader[9], 112, 'protocol');
    assert.equal(ipHeader.subarray(20).toString('hex'), ADVERT4);

    await sleep(200);
    assert.deepEqual(a.events.filter((e) => e.event === 'vrrp'), [], 'multicast loop is off');
    await a.close();
    await b.close();
  });

  it('IPv4 unicast: to the peer address, from the given source', async (t) => {
    const { received, ifindexB, a, b } = await exchange({ family: 4, multicast: false, payload: ADVERT4, dst: '198.18.0.2', src: '198.18.0.1' });
    t.after(() => (a.kill(), b.kill()));
    assert.deepEqual(received.message, { payload: ADVERT4, src: '198.18.0.1', dst: '198.18.0.2', ttl: 255, ifindex: ifindexB });
    await a.close();
    await b.close();
  });

  it('IPv6 multicast: from the link-local address to ff02::12, hop limit 255', async (t) => {
    const { received, ifindexB, a, b } = await exchange({ family: 6, multicast: true, payload: ADVERT6, dst: 'ff02::12', src: LL_A });
    t.after(() => (a.kill(), b.kill()));
    assert.deepEqual(received.message, { payload: ADVERT6, src: LL_A, dst: 'ff02::12', ttl: 255, ifindex: ifindexB });
    await sleep(200);
    assert.deepEqual(a.events.filter((e) => e.event === 'vrrp'), [], 'multicast loop is off');
    await a.close();
    await b.close();
  });

  it('IPv6 unicast: to a global peer address, from the given global source', async (t) => {
    const { received, ifindexB, a, b } = await exchange({ family: 6, multicast: false, payload: ADVERT6, dst: '2001:2::2', src: '2001:2::1' });
    t.after(() => (a.kill(), b.kill()));
    assert.deepEqual(received.message, { payload: ADVERT6, src: '2001:2::1', dst: '2001:2::2', ttl: 255, ifindex: ifindexB });
    await a.close();
    await b.close();
  });

  it('delivers every queued datagram, odd sizes included, and nothing after close()', async (t) => {
    const a = await Rpc.start(A);
    const b = await Rpc.start(B);
    t.after(() => (a.kill(), b.kill()));
    const options = { family: 4, ifname: 'eth0', multicast: true };
    await b.call('vrrpOpen', { name: 's', options });
    await a.call('vrrpOpen', { name: 's', options });
    // B is busy while A sends, so the datagrams queue up in B's socket.
    const blocked = b.call('block', { ms: 500 });
    await sleep(100);
    const payloads = ['', '21', ADVERT4, 'ff'.repeat(1400)];
    for (const payload of payloads) await a.call('vrrpSend', { name: 's', payload, dst: '224.0.0.18' });
    await blocked;
    await waitFor('all datagrams', 3000, () => Promise.resolve(b.events.filter((e) => e.event === 'vrrp').length >= payloads.length || undefined));
    const got = b.events.filter((e) => e.event === 'vrrp').map((e) => (e.message as { payload: string; src: string }).payload);
    assert.deepEqual(got, payloads);

    await b.call('vrrpClose', { name: 's' });
    const mark = b.mark();
    await a.call('vrrpSend', { name: 's', payload: ADVERT4, dst: '224.0.0.18' });
    await sleep(200);
    assert.deepEqual(b.events.slice(mark), []);
    await a.close();
    await b.close();
  });
});

describe('Rtnl', () => {
  it('addAddress with lifetimes: ip shows them, listAddresses reports them; an IPv6 VIP is nodad and usable at once', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });

    await a.call('addAddress', { ifindex, address: '198.18.0.100', prefixLen: 24, validLft: 30, preferredLft: 20, proto: 0x6b });
    const shown = await ipAddr(A, '198.18.0.100');
    assert.ok(shown, 'ip shows the address');
    assert.equal(shown.prefixlen, 24);
    assert.ok(shown.valid_life_time > 25 && shown.valid_life_time <= 30, `valid_lft ${shown.valid_life_time}`);
    assert.ok(shown.preferred_life_time > 15 && shown.preferred_life_time <= 20, `preferred_lft ${shown.preferred_life_time}`);
    const listed = (await a.call<{ address: string }[]>('listAddresses', { filter: { ifindex, family: 4 } })).find(
      (x) => x.address === '198.18.0.100',
    ) as { validLft: number; preferredLft: number } | undefined;
    assert.ok(listed);
    assert.ok(listed.validLft > 25 && listed.validLft <= 30);
    // Secondary: the subnet already has 198.18.0.1/24, as with any VIP from the node's subnet.
    assert.deepEqual({ ...listed, validLft: 0, preferredLft: 0 }, {
      ifindex, family: 4, address: '198.18.0.100', prefixLen: 24, validLft: 0, preferredLft: 0, flags: 0x01, scope: 0, label: 'eth0', proto: 0x6b,
    });

    await a.call('addAddress', { ifindex, address: '2001:2::100', prefixLen: 64, validLft: 30 });
    // Straight after the add, on an interface that does DAD: not tentative.
    const shown6 = await ipAddr(A, '2001:2::100');
    assert.ok(shown6);
    assert.equal(shown6.nodad, true);
    assert.equal(shown6.tentative, undefined);
    assert.ok(shown6.preferred_life_time > 25 && shown6.preferred_life_time <= 30, 'preferred defaults to valid');
    const listed6 = (await a.call<{ address: string; flags: number }[]>('listAddresses', { filter: { family: 6 } })).find(
      (x) => x.address === '2001:2::100',
    );
    assert.ok(listed6);
    assert.equal(listed6.flags & 0x02, 0x02, 'IFA_F_NODAD');
    assert.equal(listed6.flags & 0x40, 0, 'not IFA_F_TENTATIVE');
    const all = await a.call<{ family: number; ifindex: number }[]>('listAddresses');
    assert.ok(all.some((x) => x.family === 4) && all.some((x) => x.family === 6) && all.some((x) => x.ifindex === 1));

    await a.call('deleteAddress', { ifindex, address: '198.18.0.100', prefixLen: 24 });
    await a.call('deleteAddress', { ifindex, address: '2001:2::100', prefixLen: 64 });
    await a.close();
  });

  it('an existing address: add fails with EEXIST naming it, replace refreshes the lifetime, and unrefreshed ones expire by themselves', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    const t0 = Date.now();
    await a.call('addAddress', { ifindex, address: '198.18.0.101', prefixLen: 24, validLft: 2 });
    await a.call('addAddress', { ifindex, address: '198.18.0.102', prefixLen: 24, validLft: 2 });
    await a.call('addAddress', { ifindex, address: '2001:2::101', prefixLen: 64, validLft: 2 });

    const exists = await a.fail('addAddress', { ifindex, address: '198.18.0.102', prefixLen: 24, validLft: 2 });
    assert.deepEqual(kernelError(exists), {
      name: 'Error', message: 'RTM_NEWADDR 198.18.0.102/24 on eth0: File exists', code: 'EEXIST', errno: 17, syscall: 'RTM_NEWADDR',
    });

    await sleep(1200);
    await a.call('addAddress', { ifindex, address: '198.18.0.102', prefixLen: 24, validLft: 3, replace: true });
    const refreshed = await ipAddr(A, '198.18.0.102');
    assert.ok(refreshed && refreshed.valid_life_time >= 2, `refreshed valid_lft: ${refreshed?.valid_life_time}`);

    const gone = (address: string): Promise<number> =>
      waitFor(`${address} to expire`, 6000, async () => ((await ipAddr(A, address)) ? undefined : Date.now() - t0));
    const expired101 = await gone('198.18.0.101');
    assert.ok(expired101 >= 1500 && expired101 < 4000, `198.18.0.101 expired after ${expired101} ms`);
    const expired6 = await gone('2001:2::101');
    assert.ok(expired6 >= 1500 && expired6 < 4000, `2001:2::101 expired after ${expired6} ms`);
    assert.ok(await ipAddr(A, '198.18.0.102'), 'the refreshed address outlives its first lifetime');
    const expired102 = await gone('198.18.0.102');
    assert.ok(expired102 >= 3500 && expired102 < 6500, `198.18.0.102 expired after ${expired102} ms`);
    await a.close();
  });

  it('deleteAddress removes an address; deleting a missing one rejects with EADDRNOTAVAIL naming it', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    await a.call('addAddress', { ifindex, address: '198.18.0.103', prefixLen: 24 });
    assert.equal((await ipAddr(A, '198.18.0.103'))?.valid_life_time, 0xffffffff, 'no lifetime given: forever');
    await a.call('deleteAddress', { ifindex, address: '198.18.0.103', prefixLen: 24 });
    assert.equal(await ipAddr(A, '198.18.0.103'), undefined);

    assert.deepEqual(kernelError(await a.fail('deleteAddress', { ifindex, address: '198.18.0.103', prefixLen: 24 })), {
      name: 'Error',
      message: 'RTM_DELADDR 198.18.0.103/24 on eth0: Cannot assign requested address',
      code: 'EADDRNOTAVAIL',
      errno: 99,
      syscall: 'RTM_DELADDR',
    });
    const missing6 = await a.fail('deleteAddress', { ifindex, address: '2001:2::103', prefixLen: 64 });
    assert.equal(missing6.code, 'EADDRNOTAVAIL');
    assert.match(missing6.message, /^RTM_DELADDR 2001:2::103\/64 on eth0: /);
    await a.close();
  });

  it('listLinks, getLink and ifindexOf describe the interfaces', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    const links = await a.call<{ name: string }[]>('listLinks');
    assert.deepEqual(links.map((l) => l.name).sort(), ['eth0', 'lo']);
    const eth0 = links.find((l) => l.name === 'eth0');
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    assert.deepEqual(eth0, { ifindex, name: 'eth0', mac: MAC_A, up: true, carrier: true, running: true, operstate: 'up', mtu: 1500 });
    assert.deepEqual(await a.call('getLink', { key: ifindex }), eth0);
    const lo = await a.call<{ ifindex: number; mac: string; up: boolean }>('getLink', { key: 'lo' });
    assert.deepEqual([lo.ifindex, lo.mac, lo.up], [1, '00:00:00:00:00:00', true]);
    assert.deepEqual(kernelError(await a.fail('ifindexOf', { name: 'nope0' })), {
      name: 'Error', message: 'RTM_GETLINK nope0: No such device', code: 'ENODEV', errno: 19, syscall: 'RTM_GETLINK',
    });
    assert.equal((await a.fail('getLink', { key: 9999 })).code, 'ENODEV');
    await a.close();
  });

  it('subscribe reports address adds and deletes, and links going down and up', async (t) => {
    const a = await Rpc.start(A);
    t.after(async () => {
      a.kill();
      await run(['ip', '-n', A, 'link', 'del', 'lk0']);
    });
    await ip('-n', A, 'link', 'add', 'lk0', 'type', 'veth', 'peer', 'name', 'lk1');
    await ip('-n', A, 'link', 'set', 'lk1', 'up');
    const lk0 = await a.call<number>('ifindexOf', { name: 'lk0' });
    const eth0 = await a.call<number>('ifindexOf', { name: 'eth0' });
    await a.call('subscribe');

    const addrEvent = (action: string, address: string) => (e: Line) =>
      e.event === 'rtnl' && (e.data as { kind: string; action: string; address: string }).kind === 'addr' &&
      (e.data as { action: string }).action === action && (e.data as { address: string }).address === address;
    await a.call('addAddress', { ifindex: eth0, address: '198.18.0.104', prefixLen: 24, validLft: 60 });
    const added = (await a.waitEvent(addrEvent('add', '198.18.0.104'), 3000)).data as { ifindex: number; prefixLen: number; validLft: number };
    assert.deepEqual([added.ifindex, added.prefixLen, added.validLft > 50], [eth0, 24, true]);
    await ip('-n', A, 'addr', 'add', '2001:2::104/64', 'dev', 'eth0', 'nodad');
    await a.waitEvent(addrEvent('add', '2001:2::104'), 3000);
    await a.call('deleteAddress', { ifindex: eth0, address: '198.18.0.104', prefixLen: 24 });
    await a.waitEvent(addrEvent('del', '198.18.0.104'), 3000);
    await ip('-n', A, 'addr', 'del', '2001:2::104/64', 'dev', 'eth0');
    await a.waitEvent(addrEvent('del', '2001:2::104'), 3000);

    type LinkData = { kind: string; action: string; ifindex: number; name: string; up: boolean; carrier: boolean };
    const linkEvent = (match: (l: LinkData) => boolean) => (e: Line) =>
      e.event === 'rtnl' && (e.data as LinkData).kind === 'link' && (e.data as LinkData).ifindex === lk0 && match(e.data as LinkData);
    let from = a.mark();
    await ip('-n', A, 'link', 'set', 'lk0', 'up');
    const up = (await a.waitEvent(linkEvent((l) => l.up && l.carrier), 3000, from)).data as LinkData;
    assert.deepEqual([up.action, up.name], ['update', 'lk0']);
    from = a.mark();
    await ip('-n', A, 'link', 'set', 'lk1', 'down');
    await a.waitEvent(linkEvent((l) => l.up && !l.carrier), 3000, from);
    from = a.mark();
    await ip('-n', A, 'link', 'set', 'lk0', 'down');
    await a.waitEvent(linkEvent((l) => !l.up), 3000, from);
    from = a.mark();
    await ip('-n', A, 'link', 'del', 'lk0');
    await a.waitEvent(linkEvent((l) => l.action === 'del'), 3000, from);
    assert.deepEqual(a.events.filter((e) => e.event === 'rtnlError'), []);
    assert.equal((await a.fail('subscribe')).code, 'EALREADY');
    await a.close();
  });

  it('subscribe reports an overrun as an event when events are lost, and keeps going', async (t) => {
    const a = await Rpc.start(A);
    t.after(async () => {
      a.kill();
      await run(['ip', '-n', A, 'link', 'del', 'ov0']);
    });
    await ip('-n', A, 'link', 'add', 'ov0', 'type', 'veth', 'peer', 'name', 'ov1');
    await a.call('subscribe', { options: { receiveBufferBytes: 4096 } });
    // The fixture's loop is blocked while 300 address changes overflow its small buffer.
    const blocked = a.call('block', { ms: 1500 });
    await sleep(100);
    const batch = Array.from({ length: 300 }, (_, i) => `addr add 198.19.${i >> 8}.${i & 255}/32 dev ov0\n`).join('');
    const r = await run(['ip', '-n', A, '-batch', '-'], batch);
    assert.equal(r.code, 0, r.stderr);
    await blocked;
    const overrun = await a.waitEvent((e) => e.event === 'rtnl' && (e.data as { kind: string }).kind === 'overrun', 3000);
    assert.ok(overrun);
    const from = a.mark();
    await ip('-n', A, 'addr', 'add', '198.19.200.1/32', 'dev', 'ov0');
    await a.waitEvent(
      (e) => e.event === 'rtnl' && (e.data as { address?: string }).address === '198.19.200.1',
      3000,
      from,
    );
    assert.deepEqual(a.events.filter((e) => e.event === 'rtnlError'), []);
    await a.close();
  });

  it('close() rejects requests in flight with ECANCELED', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    assert.deepEqual(await a.call('closeWithRequestInFlight'), {
      name: 'Error', message: 'RTM_GETLINK dump: Operation canceled (Rtnl closed)', code: 'ECANCELED', errno: 125, syscall: 'RTM_GETLINK',
    });
    await a.close();
  });
});

describe('announcements', () => {
  it('gratuitous ARP: a broadcast request with sender IP = target IP, announcing the interface MAC or the given one, always from the interface MAC', async (t) => {
    const capture = await Capture.start(B, ['arp']);
    const a = await Rpc.start(A);
    t.after(async () => {
      a.kill();
      await capture.stop();
    });
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    await a.call('garp', { ifindex, address: '198.18.0.150' });
    await a.call('garp', { ifindex, address: '198.18.0.151', mac: '02:00:5E:00:01:33' });
    await a.call('announce', { ifindex, address: '198.18.0.152', repeat: 2 });
    const frames = await capture.waitFrames(4, 3000);
    const decoded = frames.map((f) => ({
      length: f.length,
      ethDst: mac(f.subarray(0, 6)),
      ethSrc: mac(f.subarray(6, 12)),
      ethType: f.readUInt16BE(12),
      arp: f.subarray(14, 22).toString('hex'),
      senderMac: mac(f.subarray(22, 28)),
      senderIp: [...f.subarray(28, 32)].join('.'),
      targetMac: mac(f.subarray(32, 38)),
      targetIp: [...f.subarray(38, 42)].join('.'),
    }));
    const expected = (senderMac: string, ip4: string) => ({
      length: 60,
      ethDst: 'ff:ff:ff:ff:ff:ff',
      ethSrc: MAC_A,
      ethType: 0x0806,
      arp: '0001080006040001', // Ethernet, IPv4, 6, 4, request
      senderMac,
      senderIp: ip4,
      targetMac: '00:00:00:00:00:00',
      targetIp: ip4,
    });
    assert.deepEqual(decoded, [
      expected(MAC_A, '198.18.0.150'),
      expected('02:00:5e:00:01:33', '198.18.0.151'),
      expected(MAC_A, '198.18.0.152'),
      expected(MAC_A, '198.18.0.152'),
    ]);
    await a.close();
  });

  it('unsolicited NA: to ff02::1 from the link-local address, hop limit 255, Override set, Solicited clear, target and its MAC', async (t) => {
    // Only A's unsolicited ones: A's kernel answers B's neighbour solicitations (B resolving
    // A's link-local address) with solicited NAs (flag S, 0x40, set), which may cross the capture.
    const capture = await Capture.start(B, ['icmp6', 'and', 'ip6[40]', '==', '136', 'and', 'ip6[44]', '&', '0x40', '==', '0', 'and', 'ether', 'src', MAC_A]);
    const a = await Rpc.start(A);
    t.after(async () => {
      a.kill();
      await capture.stop();
    });
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    await a.call('na', { ifindex, address: '2001:2::150' });
    await a.call('na', { ifindex, address: '2001:2::151', mac: '02:00:5e:00:02:33', router: true });
    await a.call('announce', { ifindex, address: '2001:2::152' });
    const frames = await capture.waitFrames(3, 3000);
    const decoded = frames.map((f) => {
      const ip6 = f.subarray(14);
      const icmp = ip6.subarray(40);
      return {
        ethDst: mac(f.subarray(0, 6)),
        ethSrc: mac(f.subarray(6, 12)),
        nextHeader: ip6[6],
        hopLimit: ip6[7],
        src: ipv6(ip6.subarray(8, 24)),
        dst: ipv6(ip6.subarray(24, 40)),
        length: icmp.length,
        type: icmp[0],
        flags: icmp[4],
        target: ipv6(icmp.subarray(8, 24)),
        option: icmp.subarray(24, 26).toString('hex'),
        optionMac: mac(icmp.subarray(26, 32)),
      };
    });
    const expected = (target: string, flags: number, optionMac: string) => ({
      ethDst: '33:33:00:00:00:01',
      ethSrc: MAC_A,
      nextHeader: 58,
      hopLimit: 255,
      src: LL_A,
      dst: 'ff02::1',
      length: 32,
      type: 136,
      flags,
      target,
      option: '0201', // Target Link-Layer Address, 8 bytes
      optionMac,
    });
    assert.deepEqual(decoded, [
      expected('2001:2::150', 0x20, MAC_A), // Override only
      expected('2001:2::151', 0xa0, '02:00:5e:00:02:33'), // Router + Override
      expected('2001:2::152', 0x20, MAC_A),
    ]);
    await a.close();
  });
});

describe('bad input', () => {
  it('bad arguments and unknown interfaces are clear errors, and the process lives on', async (t) => {
    const a = await Rpc.start(A);
    t.after(() => a.kill());
    const ifindex = await a.call<number>('ifindexOf', { name: 'eth0' });
    const invalid = (message: string) => ({ name: 'TypeError', message, code: 'ERR_INVALID_ARG_VALUE' });
    const v4 = { family: 4, ifname: 'eth0', multicast: true };

    assert.deepEqual(await a.fail('vrrpOpen', { name: 'x', options: { ...v4, ifname: 'nope0' } }), {
      name: 'Error', message: 'VrrpSocket nope0/IPv4: No such device', code: 'ENODEV', errno: 19, syscall: 'if_nametoindex',
    });
    assert.deepEqual(
      await a.fail('vrrpOpen', { name: 'x', options: { ...v4, family: 5 } }),
      invalid('VrrpSocket: options.family must be 4 or 6, got 5'),
    );
    assert.deepEqual(
      await a.fail('vrrpOpen', { name: 'x', options: { ...v4, ifname: 'x'.repeat(16) } }),
      invalid(`VrrpSocket: options.ifname must be an interface name, got "${'x'.repeat(16)}"`),
    );
    await a.call('vrrpOpen', { name: 's', options: v4 });
    assert.deepEqual(
      await a.fail('vrrpSend', { name: 's', payload: ADVERT4, dst: 'not-an-ip' }),
      invalid('send: dst must be an IPv4 address string, got "not-an-ip"'),
    );
    assert.deepEqual(
      await a.fail('vrrpSend', { name: 's', payload: ADVERT4, dst: 'ff02::12' }),
      invalid('send: dst must be an IPv4 address string, got "ff02::12"'),
    );
    const notLocal = await a.fail('vrrpSend', { name: 's', payload: ADVERT4, dst: '198.18.0.2', src: '198.18.9.9' });
    assert.equal(notLocal.syscall, 'sendmsg');
    assert.match(notLocal.message, /^send to 198\.18\.0\.2 from 198\.18\.9\.9 on VrrpSocket eth0\/IPv4: /);

    assert.deepEqual(
      await a.fail('addAddress', { ifindex, address: '198.18.0.300', prefixLen: 24 }),
      invalid('addAddress: options.address must be an IPv4 or IPv6 address string, got "198.18.0.300"'),
    );
    assert.deepEqual(
      await a.fail('addAddress', { ifindex, address: '198.18.0.120', prefixLen: 33 }),
      invalid('addAddress: options.prefixLen must be an integer from 0 to 32, got 33'),
    );
    assert.deepEqual(
      await a.fail('addAddress', { ifindex: 'eth0', address: '198.18.0.120', prefixLen: 24 }),
      invalid('addAddress: options.ifindex must be an integer from 1 to 2147483647, got "eth0"'),
    );
    assert.deepEqual(kernelError(await a.fail('addAddress', { ifindex: 9999, address: '198.18.0.120', prefixLen: 24 })), {
      name: 'Error', message: 'RTM_NEWADDR 198.18.0.120/24 on ifindex 9999: No such device', code: 'ENODEV', errno: 19, syscall: 'RTM_NEWADDR',
    });
    const badLifetimes = await a.fail('addAddress', { ifindex, address: '198.18.0.120', prefixLen: 24, validLft: 5, preferredLft: 10 });
    assert.deepEqual([badLifetimes.code, badLifetimes.syscall], ['EINVAL', 'RTM_NEWADDR']);
    assert.deepEqual(
      await a.fail('listAddresses', { filter: { family: 5 } }),
      invalid('listAddresses: filter.family must be 4 or 6, got 5'),
    );

    assert.deepEqual(
      await a.fail('garp', { ifindex, address: '2001:2::1' }),
      invalid('sendGratuitousArp: options.address must be an IPv4 address, got "2001:2::1"'),
    );
    assert.deepEqual(
      await a.fail('garp', { ifindex, address: '198.18.0.1', mac: 'zz:00:00:00:00:00' }),
      invalid('sendGratuitousArp: options.mac must be a MAC address like "02:00:5e:00:01:01", got "zz:00:00:00:00:00"'),
    );
    assert.deepEqual(await a.fail('garp', { ifindex: 9999, address: '198.18.0.1' }), {
      name: 'Error', message: 'gratuitous ARP for 198.18.0.1 on ifindex 9999: No such device or address', code: 'ENXIO', errno: 6, syscall: 'if_indextoname',
    });
    assert.deepEqual(await a.fail('garp', { ifindex: 1, address: '127.0.0.1' }), {
      name: 'Error', message: 'gratuitous ARP for 127.0.0.1 on lo: Operation not supported (not an Ethernet interface)', code: 'EOPNOTSUPP', errno: 95, syscall: 'ioctl',
    });
    assert.deepEqual(
      await a.fail('na', { ifindex, address: '198.18.0.1' }),
      invalid('sendUnsolicitedNa: options.address must be an IPv6 address, got "198.18.0.1"'),
    );
    assert.equal(await a.call('ping'), 'pong');
    await a.close();
  });
});

describe('worker threads', () => {
  it('the addon works in workers, and terminating them with everything open and busy neither crashes nor leaks', async (t) => {
    const b = await Rpc.start(B);
    t.after(() => b.kill());
    await b.call('vrrpOpen', { name: 's', options: { family: 4, ifname: 'eth0', multicast: true } });
    const flood = b.call<number>('vrrpFlood', { name: 's', payload: ADVERT4, dst: '224.0.0.18' });
    const r = await run(['ip', 'netns', 'exec', A, process.execPath, WORKER_FIXTURE, '4']);
    await b.call('vrrpFloodStop', { name: 's' });
    assert.ok((await flood) > 0);
    assert.equal(r.code, 0, `worker fixture: ${r.stderr}`);
    assert.equal(r.stderr, '');
    const result = JSON.parse(r.stdout) as {
      seen: { links: number; received: number; events: number }[];
      terminateCodes: number[];
      closingReady: { links: number; received: number };
      closeExitCode: number;
      mainLinks: number;
    };
    assert.equal(result.seen.length, 8);
    for (const seen of [...result.seen, result.closingReady]) {
      assert.equal(seen.links, 2, 'listLinks in a worker');
      assert.ok(seen.received > 0, 'VRRP adverts received in a worker');
    }
    assert.deepEqual(result.terminateCodes, Array(8).fill(1));
    assert.equal(result.closeExitCode, 0, 'a worker that closed everything exits by itself');
    assert.equal(result.mainLinks, 2);
    await b.close();
  });
});
