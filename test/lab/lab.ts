// The isolated network-namespace lab used by test/netns, the failover benchmark and the demo.
//
// Topology (names for the first unnamed lab of process 1234; see labId below):
//
//   kl1234-br   bridge namespace: br0 (no address, no IPv6, STP off, multicast snooping off,
//               bridge netfilter off) with one veth port per lab host: p-n1, p-n2, ..., p-c
//   kl1234-n1   node 1: lo, eth0 02:6b:6c:00:00:01 198.18.0.11/24 2001:2::11/64
//   kl1234-n2   node 2: lo, eth0 02:6b:6c:00:00:02 198.18.0.12/24 2001:2::12/64
//   kl1234-c    client: lo, eth0 02:6b:6c:00:00:fe 198.18.0.2/24  2001:2::2/64
//
// Both veth ends are created directly in their namespaces, so nothing is ever created in, or
// moved through, the root namespace; the only routes anywhere are the connected 198.18.0.0/24,
// 2001:2::/64 and fe80::/64 (no default route), so lab traffic cannot leave the lab.
// VIPs for tests: 198.18.0.100-199 and 2001:2::100-199 (vip4(), vip6()).
//
// Sysctls: every host disables IPv6 DAD (link-local and global addresses are usable at once,
// VRRPv3 over IPv6 advertises from the link-local address), router solicitations and RA
// acceptance (no noise in captures). Neighbour behaviour keeps the kernel defaults of a new
// namespace, which are those of a typical LAN client: arp_accept 0 and accept_untracked_na 0,
// so a gratuitous ARP / unsolicited NA only updates an entry the client already has.
//
// Lifetime: every lab is torn down by teardown(), and otherwise by exit hooks (process exit,
// SIGINT, SIGTERM, SIGHUP). A SIGKILLed owner leaves its namespaces behind; createLab sweeps
// namespaces kl<pid>-* whose owner pid is dead (and SIGKILLs whatever still runs inside them).
// Persistent labs (the CLI's) are named kl0-<name>-* and are never swept.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, type WriteStream } from 'node:fs';
import { run, runSync, killPid, pidAlive, sleep, sleepSync, type RunOptions, type RunResult } from './run.ts';

export interface LabNode {
  /** 'n1', 'n2', ... or 'client'. */
  name: string;
  netns: string;
  ifname: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  prefix4: number;
  prefix6: number;
  /** fe80:: EUI-64 address derived from mac. */
  linkLocal: string;
  /** The bridge-side veth port in lab.bridgeNetns ('p-n1', 'p-c'). */
  port: string;
}

export interface OutputLine {
  /** Date.now() when the line arrived. */
  t: number;
  stream: 'stdout' | 'stderr';
  line: string;
}

export interface LabProcess {
  pid: number;
  netns: string;
  argv: string[];
  child: ChildProcess;
  /** Exit code, or null when killed by a signal (see exitSignal). Resolves on 'exit'. */
  exited: Promise<number | null>;
  /** Resolves once the process has exited and its stdout/stderr are drained (all lines are in output). */
  closed: Promise<void>;
  exitSignal: NodeJS.Signals | null;
  /** Every line so far (the last maxHistory lines if that option was given), both streams, in arrival order. */
  output: OutputLine[];
  /** Lines of stdout from the start, until the process exits. */
  stdoutLines(): AsyncIterable<string>;
  /** Lines of both streams from the start, until the process exits. */
  lines(): AsyncIterable<OutputLine>;
  /** Callback for each new line of either stream; returns an unsubscribe function. */
  onLine(cb: (l: OutputLine) => void): () => void;
  /** Index of the next line to arrive, for waitForLine(re, ms, from). */
  mark(): number;
  /**
   * First line (either stream) at index >= from matching re (default: only lines arriving
   * after the call). Rejects on timeout or when the process exits first.
   */
  waitForLine(re: RegExp, timeoutMs: number, from?: number): Promise<string>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code (null: signalled). */
  stop(graceMs?: number): Promise<number | null>;
  readonly running: boolean;
}

export type ExecOptions = RunOptions;

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Append every output line, prefixed with an ISO time and the stream, to this file. */
  logFile?: string;
  stdin?: 'ignore' | 'pipe';
  /** Keep only about this many lines in `output` (a long-running tcpdump); default: all. */
  maxHistory?: number;
}

export interface AddressInfo {
  address: string;
  prefix: number;
  family: 4 | 6;
  scope: string;
  /** Seconds, or 'forever'. */
  validLft: number | 'forever';
  preferredLft: number | 'forever';
  flags: string[];
}

export interface Lab {
  id: string;
  bridgeNetns: string;
  nodes: LabNode[];
  client: LabNode;
  /** nodes followed by client. */
  hosts: LabNode[];
  ipv6: boolean;
  /** `ip netns exec netns argv...`; rejects (CommandError with stderr) on non-zero unless allowFail. */
  exec(netns: string, argv: string[], opts?: ExecOptions): Promise<RunResult>;
  /** Tracked child: SIGTERM, then SIGKILL after a grace, at teardown. */
  spawn(netns: string, argv: string[], opts?: SpawnOptions): LabProcess;
  /** Bridge port down: the node loses carrier. */
  cutLink(node: LabNode): Promise<void>;
  restoreLink(node: LabNode): Promise<void>;
  /** Detach the port from the bridge: silent, the node's link stays up. */
  partition(node: LabNode): Promise<void>;
  heal(node: LabNode): Promise<void>;
  /** Bare addresses (no prefix) on the host's eth0, IPv4 and IPv6, link-local included. */
  addresses(node: LabNode): Promise<string[]>;
  addressDetails(node: LabNode): Promise<AddressInfo[]>;
  /** lladdr of ip in from's neighbour table on eth0 (any state that has one), or undefined. */
  neighMac(from: LabNode, ip: string): Promise<string | undefined>;
  /** Forget every neighbour entry on the host's eth0. */
  flushNeigh(node: LabNode): Promise<void>;
  /** Carrier (IFF_LOWER_UP) and operstate of the host's eth0. */
  linkState(node: LabNode): Promise<{ carrier: boolean; operstate: string }>;
  /** Run fn at teardown (before processes are stopped); in exit hooks it is called synchronously. */
  onTeardown(fn: () => void | Promise<void>): void;
  /** Idempotent. */
  teardown(): Promise<void>;
}

export interface CreateLabOptions {
  nodes: number;
  /** Global IPv6 addresses (default true); false disables IPv6 in every namespace. */
  ipv6?: boolean;
  /** [a-z][a-z0-9]{0,11}; part of the namespace names. */
  name?: string;
  /** No exit hooks, never swept, named kl0-<name>-*: for the CLI. */
  persistent?: boolean;
}

export const LAB_PREFIX4 = 24;
export const LAB_PREFIX6 = 64;
export const LAB_NET4 = '198.18.0.0/24';
export const LAB_NET6 = '2001:2::/64';
/** k-th test VIP (k = 0..99). */
export const vip4 = (k = 0): string => `198.18.0.${100 + k}`;
export const vip6 = (k = 0): string => `2001:2::${100 + k}`;

const MAX_NODES = 89; // .11 .. .99; .100 and up are VIPs
const NETNS_DIR = '/run/netns';
const NAME_RE = /^[a-z][a-z0-9]{0,11}$/;
const OWNED_RE = /^kl(\d+)-/;

const NODE_SYSCTLS: Record<string, string> = {
  'net/ipv6/conf/all/accept_dad': '0',
  'net/ipv6/conf/default/accept_dad': '0',
  'net/ipv6/conf/all/accept_ra': '0',
  'net/ipv6/conf/default/accept_ra': '0',
  'net/ipv6/conf/all/router_solicitations': '0',
  'net/ipv6/conf/default/router_solicitations': '0',
};
const NO_IPV6_SYSCTLS: Record<string, string> = {
  'net/ipv6/conf/all/disable_ipv6': '1',
  'net/ipv6/conf/default/disable_ipv6': '1',
};
const BRIDGE_SYSCTLS: Record<string, string> = {
  ...NO_IPV6_SYSCTLS,
  // Bridge netfilter is per namespace on this kernel; off so no firewall sees lab frames.
  'net/bridge/bridge-nf-call-iptables': '0',
  'net/bridge/bridge-nf-call-ip6tables': '0',
  'net/bridge/bridge-nf-call-arptables': '0',
};

export function macFor(index: number): string {
  return `02:6b:6c:00:00:${index.toString(16).padStart(2, '0')}`;
}

/** fe80:: EUI-64 link-local address of a MAC (what the kernel derives with addrgenmode eui64). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(':').map((h) => parseInt(h, 16));
  if (b.length !== 6 || b.some((x) => Number.isNaN(x))) throw new Error(`bad MAC ${mac}`);
  const [b0, b1, b2, b3, b4, b5] = b as [number, number, number, number, number, number];
  const groups = [(b0 ^ 0x02) * 256 + b1, b2 * 256 + 0xff, 0xfe * 256 + b3, b4 * 256 + b5];
  return `fe80::${groups.map((g) => g.toString(16)).join(':')}`.replace(/^fe80::0:/, 'fe80::');
}

function sysctlScript(values: Record<string, string>): string[] {
  // /proc/sys/net is per network namespace of the writing task; `sh` is always there, sysctl(8)
  // may not be. Missing keys (e.g. bridge netfilter not loaded) are skipped.
  const pairs = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return ['sh', '-c', 'for kv; do f="/proc/sys/${kv%%=*}"; [ -e "$f" ] && echo "${kv#*=}" > "$f"; done; exit 0', 'sh', ...pairs];
}

// ---------------------------------------------------------------------------------------------
// Namespace bookkeeping, sweep and exit hooks

function listNetns(): string[] {
  try {
    return readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
}

function netnsPids(netns: string): number[] {
  const r = runSync(['ip', 'netns', 'pids', netns]);
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** SIGKILL whatever runs in the namespaces, then delete them. Synchronous; never throws. */
function destroyNamespacesSync(names: string[]): void {
  for (const ns of names) for (const pid of netnsPids(ns)) killPid(pid, 'SIGKILL');
  if (names.length > 0) runSync(['ip', '-force', '-batch', '-'], names.map((n) => `netns del ${n}\n`).join(''));
}

/**
 * Remove leftovers of labs whose owning process is dead: namespaces named kl<pid>-* with a pid
 * (not 0, not ours) that no longer runs. Returns the namespaces removed.
 */
export function sweepStaleLabs(): string[] {
  const stale: string[] = [];
  for (const ns of listNetns()) {
    const m = OWNED_RE.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === 0 || pid === process.pid || pidAlive(pid)) continue;
    stale.push(ns);
  }
  destroyNamespacesSync(stale);
  return stale;
}

const liveLabs = new Set<LabImpl>();
let hooksInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onExit(): void {
  for (const lab of [...liveLabs]) lab.teardownSync();
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  uninstallHooks();
  // Die of the signal as if we had never caught it, unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

// ---------------------------------------------------------------------------------------------
// Processes

class LabProcessImpl implements LabProcess {
  readonly pid: number;
  readonly netns: string;
  readonly argv: string[];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly closed: Promise<void>;
  exitSignal: NodeJS.Signals | null = null;
  readonly output: OutputLine[] = [];
  /** Absolute index of output[0] once old lines were dropped (maxHistory). */
  private base = 0;
  private readonly maxHistory: number;
  private exitedFlag = false;
  private readonly listeners = new Set<(l: OutputLine) => void>();
  private readonly exitListeners = new Set<() => void>();
  private log: WriteStream | undefined;

  constructor(netns: string, argv: string[], opts: SpawnOptions, onEnd: (pid: number) => void) {
    this.netns = netns;
    this.argv = argv;
    this.maxHistory = opts.maxHistory ?? Infinity;
    const child = spawnChild('ip', ['netns', 'exec', netns, ...argv], {
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    this.child = child;
    if (child.pid === undefined) {
      // spawn failed synchronously (e.g. no `ip`); 'error' follows.
      this.pid = -1;
    } else this.pid = child.pid;
    if (opts.logFile) this.log = createWriteStream(opts.logFile, { flags: 'a' });
    this.pipe('stdout');
    this.pipe('stderr');
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitedFlag) return;
        this.exitedFlag = true;
        this.exitSignal = signal;
        onEnd(this.pid);
        for (const l of this.exitListeners) l();
        resolve(code);
      };
      child.on('exit', done);
      child.on('error', (err) => {
        this.push('stderr', `spawn error: ${err.message}`);
        done(null, null);
      });
    });
    this.closed = new Promise((resolve) => {
      let n = 0;
      const done = (): void => {
        if (++n === 2) {
          this.log?.end();
          resolve();
        }
      };
      // 'close' waits for grandchildren holding the pipes too; so be it: all lines are in.
      child.once('close', done);
      void this.exited.then(done);
    });
  }

  get running(): boolean {
    return !this.exitedFlag;
  }

  private pipe(stream: 'stdout' | 'stderr'): void {
    const s = this.child[stream];
    if (!s) return;
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.push(stream, buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    s.on('end', () => {
      if (buf) this.push(stream, buf);
      buf = '';
    });
  }

  private push(stream: 'stdout' | 'stderr', line: string): void {
    const l: OutputLine = { t: Date.now(), stream, line };
    this.output.push(l);
    if (this.output.length > 2 * this.maxHistory) {
      const drop = this.output.length - this.maxHistory;
      this.output.splice(0, drop);
      this.base += drop;
    }
    this.log?.write(`${new Date(l.t).toISOString()} ${stream}: ${line}\n`);
    for (const cb of this.listeners) cb(l);
  }

  onLine(cb: (l: OutputLine) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  mark(): number {
    return this.base + this.output.length;
  }

  async *lines(): AsyncIterable<OutputLine> {
    let i = this.base;
    for (;;) {
      i = Math.max(i, this.base);
      while (i < this.base + this.output.length) yield this.output[i++ - this.base] as OutputLine;
      if (!this.running && !this.child.stdout?.readable && !this.child.stderr?.readable) return;
      await new Promise<void>((resolve) => {
        const offLine = this.onLine(() => finish());
        const offEnd = (): void => finish();
        this.exitListeners.add(offEnd);
        this.child.once('close', offEnd);
        const t = setTimeout(() => finish(), 200); // re-check stream state now and then
        function finish(): void {
          clearTimeout(t);
          offLine();
          resolve();
        }
      });
    }
  }

  async *stdoutLines(): AsyncIterable<string> {
    for await (const l of this.lines()) if (l.stream === 'stdout') yield l.line;
  }

  waitForLine(re: RegExp, timeoutMs: number, from?: number): Promise<string> {
    const start = Math.max(0, (from ?? this.mark()) - this.base);
    for (let i = start; i < this.output.length; i++) {
      const l = this.output[i] as OutputLine;
      if (re.test(l.line)) return Promise.resolve(l.line);
    }
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        off();
        this.exitListeners.delete(onExit);
      };
      const tail = (): string =>
        this.output
          .slice(-15)
          .map((l) => `  ${l.line}`)
          .join('\n');
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no line matching ${String(re)} within ${timeoutMs} ms from ${this.argv.join(' ')}; last output:\n${tail()}`));
      }, timeoutMs);
      const off = this.onLine((l) => {
        if (re.test(l.line)) {
          cleanup();
          resolve(l.line);
        }
      });
      const onExit = (): void => {
        // Give trailing output a moment to arrive before giving up.
        setTimeout(() => {
          cleanup();
          reject(new Error(`${this.argv.join(' ')} exited before a line matching ${String(re)}; last output:\n${tail()}`));
        }, 100);
      };
      if (!this.running) onExit();
      else this.exitListeners.add(onExit);
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running && this.pid > 0) killPid(this.pid, sig);
  }

  async stop(graceMs = 2000): Promise<number | null> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The lab

let unnamedSeq = 0;

class LabImpl implements Lab {
  readonly id: string;
  readonly bridgeNetns: string;
  readonly nodes: LabNode[];
  readonly client: LabNode;
  readonly hosts: LabNode[];
  readonly ipv6: boolean;
  readonly persistent: boolean;
  /** Every PID we started (exec and spawn) that has not been seen to exit. */
  private readonly pids = new Set<number>();
  private readonly procs = new Set<LabProcessImpl>();
  private readonly hooks: (() => void | Promise<void>)[] = [];
  private teardownPromise: Promise<void> | undefined;
  private gone = false;
  private readonly tracker = {
    started: (pid: number): void => void this.pids.add(pid),
    ended: (pid: number): void => void this.pids.delete(pid),
  };

  constructor(id: string, nodeCount: number, ipv6: boolean, persistent: boolean) {
    this.id = id;
    this.ipv6 = ipv6;
    this.persistent = persistent;
    this.bridgeNetns = `${id}-br`;
    const host = (name: string, index: number, octet: number): LabNode => {
      const mac = macFor(index);
      return {
        name,
        netns: `${id}-${name === 'client' ? 'c' : name}`,
        ifname: 'eth0',
        mac,
        ipv4: `198.18.0.${octet}`,
        ipv6: `2001:2::${octet}`,
        prefix4: LAB_PREFIX4,
        prefix6: LAB_PREFIX6,
        linkLocal: linkLocalOf(mac),
        port: `p-${name === 'client' ? 'c' : name}`,
      };
    };
    this.nodes = Array.from({ length: nodeCount }, (_, i) => host(`n${i + 1}`, i + 1, 10 + i + 1));
    this.client = host('client', 0xfe, 2);
    this.hosts = [...this.nodes, this.client];
  }

  namespaces(): string[] {
    return [this.bridgeNetns, ...this.hosts.map((h) => h.netns)];
  }

  private checkNetns(netns: string): void {
    if (this.gone) throw new Error(`lab ${this.id} is torn down`);
    if (!this.namespaces().includes(netns)) throw new Error(`${netns} is not a namespace of lab ${this.id}`);
  }

  async setUp(): Promise<void> {
    const all = this.namespaces();
    const existing = all.filter((n) => existsSync(`${NETNS_DIR}/${n}`));
    if (existing.length) throw new Error(`namespaces already exist: ${existing.join(' ')} (cli.ts down, or ip netns del)`);
    // 1. the namespaces (this touches no interface of the root namespace)
    await run(['ip', '-batch', '-'], { input: all.map((n) => `netns add ${n}\n`).join('') }, this.tracker);
    // 2. sysctls, before any interface exists, so `default` applies to eth0 and the ports
    const hostSysctls = this.ipv6 ? NODE_SYSCTLS : { ...NODE_SYSCTLS, ...NO_IPV6_SYSCTLS };
    await Promise.all([
      this.exec(this.bridgeNetns, sysctlScript(BRIDGE_SYSCTLS)),
      ...this.hosts.map((h) => this.exec(h.netns, sysctlScript(hostSysctls))),
    ]);
    // 3. the bridge and all veth pairs, each end created directly in its namespace
    const br: string[] = [
      'link set lo up',
      'link add br0 address 02:6b:6c:ff:00:00 type bridge stp_state 0 forward_delay 0 mcast_snooping 0 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0',
    ];
    for (const [i, h] of this.hosts.entries()) {
      const portMac = `02:6b:6c:01:00:${(h.name === 'client' ? 0xfe : i + 1).toString(16).padStart(2, '0')}`;
      br.push(`link add ${h.port} address ${portMac} type veth peer name eth0 netns ${h.netns} address ${h.mac}`);
      br.push(`link set ${h.port} master br0`);
      br.push(`link set ${h.port} up`);
    }
    br.push('link set br0 up');
    await run(['ip', '-n', this.bridgeNetns, '-batch', '-'], { input: br.map((l) => `${l}\n`).join('') }, this.tracker);
    // 4. each host: lo and eth0 up, addresses
    await Promise.all(
      this.hosts.map((h) => {
        const cmds = ['link set lo up', 'link set eth0 up', `addr add ${h.ipv4}/${h.prefix4} dev eth0`];
        if (this.ipv6) cmds.push(`addr add ${h.ipv6}/${h.prefix6} dev eth0 nodad`);
        return run(['ip', '-n', h.netns, '-batch', '-'], { input: cmds.map((l) => `${l}\n`).join('') }, this.tracker);
      }),
    );
    // 5. wait until every eth0 has carrier and (IPv6) its link-local address
    await Promise.all(this.hosts.map((h) => this.waitReady(h)));
  }

  private async waitReady(h: LabNode): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const [st, addrs] = await Promise.all([this.linkState(h), this.addresses(h)]);
      const ok = st.carrier && addrs.includes(h.ipv4) && (!this.ipv6 || (addrs.includes(h.ipv6) && addrs.includes(h.linkLocal)));
      if (ok) return;
      if (Date.now() > deadline)
        throw new Error(`${h.netns}: eth0 not ready (carrier ${st.carrier}, addresses ${addrs.join(' ')}, expected link-local ${h.linkLocal})`);
      await sleep(20);
    }
  }

  async exec(netns: string, argv: string[], opts: ExecOptions = {}): Promise<RunResult> {
    this.checkNetns(netns);
    return run(['ip', 'netns', 'exec', netns, ...argv], opts, this.tracker);
  }

  spawn(netns: string, argv: string[], opts: SpawnOptions = {}): LabProcess {
    this.checkNetns(netns);
    const p = new LabProcessImpl(netns, argv, opts, (pid) => {
      this.pids.delete(pid);
      this.procs.delete(p);
    });
    if (p.pid > 0) {
      this.pids.add(p.pid);
      this.procs.add(p);
    }
    return p;
  }

  private async bridgeCmd(args: string[]): Promise<void> {
    await run(['ip', '-n', this.bridgeNetns, ...args], {}, this.tracker);
  }

  cutLink(node: LabNode): Promise<void> {
    return this.bridgeCmd(['link', 'set', node.port, 'down']);
  }
  restoreLink(node: LabNode): Promise<void> {
    return this.bridgeCmd(['link', 'set', node.port, 'up']);
  }
  partition(node: LabNode): Promise<void> {
    return this.bridgeCmd(['link', 'set', node.port, 'nomaster']);
  }
  heal(node: LabNode): Promise<void> {
    return this.bridgeCmd(['link', 'set', node.port, 'master', 'br0']);
  }

  async addressDetails(node: LabNode): Promise<AddressInfo[]> {
    const r = await run(['ip', '-n', node.netns, '-j', 'addr', 'show', 'dev', node.ifname], {}, this.tracker);
    type J = {
      addr_info?: {
        family: string;
        local: string;
        prefixlen: number;
        scope: string;
        valid_life_time?: number;
        preferred_life_time?: number;
        [k: string]: unknown;
      }[];
    };
    const FOREVER = 4294967295;
    const parsed = JSON.parse(r.stdout || '[]') as J[];
    const out: AddressInfo[] = [];
    for (const link of parsed)
      for (const a of link.addr_info ?? []) {
        const flags = Object.entries(a)
          .filter(([, v]) => v === true)
          .map(([k]) => k);
        const lft = (v: number | undefined): number | 'forever' => (v === undefined || v === FOREVER ? 'forever' : v);
        out.push({
          address: a.local,
          prefix: a.prefixlen,
          family: a.family === 'inet6' ? 6 : 4,
          scope: a.scope,
          validLft: lft(a.valid_life_time),
          preferredLft: lft(a.preferred_life_time),
          flags,
        });
      }
    return out;
  }

  async addresses(node: LabNode): Promise<string[]> {
    return (await this.addressDetails(node)).map((a) => a.address);
  }

  async neighMac(from: LabNode, ip: string): Promise<string | undefined> {
    const r = await run(['ip', '-n', from.netns, '-j', 'neigh', 'show', 'to', ip, 'dev', from.ifname], {}, this.tracker);
    const entries = JSON.parse(r.stdout || '[]') as { dst: string; lladdr?: string; state?: string[] }[];
    return entries.find((e) => e.lladdr !== undefined)?.lladdr;
  }

  async flushNeigh(node: LabNode): Promise<void> {
    await run(['ip', '-n', node.netns, 'neigh', 'flush', 'dev', node.ifname], { allowFail: true }, this.tracker);
  }

  async linkState(node: LabNode): Promise<{ carrier: boolean; operstate: string }> {
    const r = await run(['ip', '-n', node.netns, '-j', 'link', 'show', 'dev', node.ifname], {}, this.tracker);
    const [l] = JSON.parse(r.stdout) as { flags: string[]; operstate: string }[];
    return { carrier: l?.flags.includes('LOWER_UP') ?? false, operstate: l?.operstate ?? 'UNKNOWN' };
  }

  onTeardown(fn: () => void | Promise<void>): void {
    this.hooks.push(fn);
  }

  teardown(): Promise<void> {
    this.teardownPromise ??= this.doTeardown();
    return this.teardownPromise;
  }

  private async doTeardown(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.hooks.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    this.gone = true;
    // Stop our processes: SIGTERM, a grace, then SIGKILL; by PID only.
    const procs = [...this.procs];
    await Promise.all(procs.map((p) => p.stop(1000)));
    for (const pid of this.pids) killPid(pid, 'SIGKILL');
    this.finish();
    if (errors.length) throw new AggregateError(errors, `lab ${this.id}: teardown hooks failed`);
  }

  /** For exit hooks: everything synchronously, no grace beyond ~300 ms. */
  teardownSync(): void {
    if (this.gone && !liveLabs.has(this)) return;
    for (const fn of this.hooks.splice(0).reverse()) {
      try {
        const r = fn();
        if (r instanceof Promise) r.catch(() => undefined);
      } catch {
        /* best effort */
      }
    }
    this.gone = true;
    for (const pid of this.pids) killPid(pid, 'SIGTERM');
    const deadline = Date.now() + 300;
    while (Date.now() < deadline && [...this.pids].some((p) => pidAlive(p))) sleepSync(10);
    for (const pid of this.pids) if (pidAlive(pid)) killPid(pid, 'SIGKILL');
    this.finish();
  }

  private finish(): void {
    // Anything still inside our namespaces was started by us (children of our children, e.g.
    // keepalived's VRRP process): kill it by PID, then delete the namespaces. Deleting the
    // bridge namespace removes the bridge-side veth ends, and with them the hosts' eth0.
    destroyNamespacesSync(this.namespaces());
    this.pids.clear();
    this.procs.clear();
    liveLabs.delete(this);
    if (liveLabs.size === 0) uninstallHooks();
  }
}

function labId(opts: CreateLabOptions): string {
  if (opts.name !== undefined && !NAME_RE.test(opts.name)) throw new Error(`lab name must match ${String(NAME_RE)}: ${opts.name}`);
  if (opts.persistent) return `kl0-${opts.name ?? 'demo'}`;
  if (opts.name !== undefined) return `kl${process.pid}-${opts.name}`;
  const seq = unnamedSeq++;
  return seq === 0 ? `kl${process.pid}` : `kl${process.pid}-l${seq}`;
}

export async function createLab(opts: CreateLabOptions): Promise<Lab> {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) throw new Error(`nodes must be 1..${MAX_NODES}`);
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces)');
  sweepStaleLabs();
  const lab = new LabImpl(labId(opts), opts.nodes, opts.ipv6 ?? true, opts.persistent ?? false);
  if (!lab.persistent) {
    liveLabs.add(lab);
    installHooks();
  }
  try {
    await lab.setUp();
  } catch (e) {
    // Only remove what this call created: setUp refuses to start when a namespace exists.
    if (!(e instanceof Error && e.message.startsWith('namespaces already exist'))) await lab.teardown().catch(() => undefined);
    else {
      liveLabs.delete(lab);
      if (liveLabs.size === 0) uninstallHooks();
    }
    throw e;
  }
  return lab;
}

/** Remove a persistent lab (kl0-<name>-*) created by the CLI. Returns the namespaces removed. */
export function destroyPersistentLab(name: string): string[] {
  if (!NAME_RE.test(name)) throw new Error(`bad lab name ${name}`);
  const prefix = `kl0-${name}-`;
  const mine = listNetns().filter((n) => n.startsWith(prefix) && /^(br|c|n\d+)$/.test(n.slice(prefix.length)));
  destroyNamespacesSync(mine);
  return mine;
}

/** Describe the persistent lab kl0-<name> from its namespaces, or undefined if absent. */
export function persistentLabNamespaces(name: string): string[] {
  const prefix = `kl0-${name}-`;
  return listNetns().filter((n) => n.startsWith(prefix));
}

/** createLab, run fn, and tear the lab down whatever fn does (its error is rethrown). */
export async function withLab<T>(opts: CreateLabOptions, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await createLab(opts);
  try {
    return await fn(lab);
  } finally {
    await lab.teardown();
  }
}
