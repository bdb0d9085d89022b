// A deterministic discrete-event simulation of VRRP routers on one L2 segment.
//
// Each node runs a real VrrpRouter. Adverts a router emits are delivered to the other nodes
// (multicast: everyone connected; unicast: the addressed peer) after a fixed per-link delay,
// unless lost (seeded PRNG) or the nodes are not connected. Connectivity is decided at send
// time: partitions split the nodes into groups; a crashed node is gone silently; a node whose
// link is down neither sends nor receives. Time only moves through the event queue, so a run is
// a pure function of its seed and script.
import { decodeAdvert, multicastGroup } from '../../../src/vrrp/packet.ts';
import { VrrpRouter, type Action, type RouterConfig, type State } from '../../../src/vrrp/router.ts';
import { Prng } from './prng.ts';

export interface SimRecord {
  at: number;
  node: number;
  action: Action;
}

export interface Delivery {
  at: number;
  sentAt: number;
  from: number;
  to: number;
  priority: number;
}

export interface SimNode {
  readonly id: number;
  readonly config: RouterConfig;
  router: VrrpRouter | undefined;
  /** Running (started, not crashed or shut down). */
  alive: boolean;
  linkUp: boolean;
  group: number;
  /** Bumped whenever the router's timer must be re-read; stale timer events are ignored. */
  timerGen: number;
  tracks: Map<string, boolean>;
}

interface DeliverEvent {
  kind: 'deliver';
  at: number;
  seq: number;
  sentAt: number;
  from: number;
  to: number;
  bytes: Uint8Array;
  src: string;
  dst: string;
}
interface TimerEvent {
  kind: 'timer';
  at: number;
  seq: number;
  node: number;
  gen: number;
}
interface CallEvent {
  kind: 'call';
  at: number;
  seq: number;
  fn: () => void;
}
type SimEvent = DeliverEvent | TimerEvent | CallEvent;

/** Binary min-heap on (at, seq): equal times run in scheduling order. */
class EventQueue {
  #heap: SimEvent[] = [];

  get size(): number {
    return this.#heap.length;
  }

  peek(): SimEvent | undefined {
    return this.#heap[0];
  }

  push(e: SimEvent): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p];
      if (parent === undefined || !less(e, parent)) break;
      h[i] = parent;
      h[p] = e;
      i = p;
    }
  }

  pop(): SimEvent | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      const hm = (): SimEvent => h[m] as SimEvent;
      if (l < h.length && less(h[l] as SimEvent, hm())) m = l;
      if (r < h.length && less(h[r] as SimEvent, hm())) m = r;
      if (m === i) break;
      const t = h[m] as SimEvent;
      h[m] = h[i] as SimEvent;
      h[i] = t;
      i = m;
    }
    return top;
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export interface SimOptions {
  seed: number;
  /** Per directed link delay in ms; default: uniform in [minDelayMs, maxDelayMs] per link. */
  minDelayMs?: number;
  maxDelayMs?: number;
  lossProbability?: number;
}

export class Simulator {
  readonly nodes: SimNode[];
  readonly records: SimRecord[] = [];
  readonly deliveries: Delivery[] = [];
  readonly rng: Prng;
  readonly maxDelayMs: number;
  lossProbability: number;
  now = 0;
  /** Adverts lost to the loss probability (not to partitions). */
  lost = 0;

  readonly #delay: number[][];
  readonly #queue = new EventQueue();
  #seq = 0;
  readonly #byAddress = new Map<string, number>();

  constructor(configs: readonly RouterConfig[], options: SimOptions) {
    this.rng = new Prng(options.seed);
    const min = options.minDelayMs ?? 0.05;
    this.maxDelayMs = options.maxDelayMs ?? 1;
    this.lossProbability = options.lossProbability ?? 0;
    this.nodes = configs.map((config, id) => ({
      id,
      config,
      router: undefined,
      alive: false,
      linkUp: true,
      group: 0,
      timerGen: 0,
      tracks: new Map(config.tracks.map((t) => [t.name, true])),
    }));
    this.#delay = configs.map(() => configs.map(() => min + this.rng.next() * (this.maxDelayMs - min)));
    configs.forEach((c, i) => this.#byAddress.set(c.localAddress, i));
  }

  node(i: number): SimNode {
    const n = this.nodes[i];
    if (n === undefined) throw new RangeError(`no node ${i}`);
    return n;
  }

  router(i: number): VrrpRouter {
    const r = this.node(i).router;
    if (r === undefined) throw new RangeError(`node ${i} has no router`);
    return r;
  }

  delay(from: number, to: number): number {
    return this.#delay[from]?.[to] ?? 0;
  }

  state(i: number): State | 'down' {
    const n = this.node(i);
    return n.alive && n.router !== undefined ? n.router.state : 'down';
  }

  connected(a: number, b: number): boolean {
    const x = this.node(a);
    const y = this.node(b);
    return x.alive && y.alive && x.linkUp && y.linkUp && x.group === y.group;
  }

  // ---- scripted inputs (take effect at the current time) -----------------------------------

  /** Creates a fresh router (a restart loses all protocol state) and starts it. */
  start(i: number): void {
    const n = this.node(i);
    const router = new VrrpRouter(n.config);
    n.router = router;
    n.alive = true;
    router.setLink(n.linkUp, this.now);
    for (const [name, up] of n.tracks) router.setTrack(name, up, this.now);
    router.start(this.now);
    this.#sync(n);
  }

  /** The process dies: no priority 0, no VIP removal, in-flight packets to it are lost. */
  crash(i: number): void {
    const n = this.node(i);
    n.alive = false;
    n.timerGen++;
  }

  /** Graceful stop: priority-0 advert and VIP removal, then the process exits. */
  shutdown(i: number): void {
    const n = this.node(i);
    if (!n.alive || n.router === undefined) return;
    n.router.shutdown(this.now);
    this.#sync(n);
    n.alive = false;
    n.timerGen++;
  }

  setLink(i: number, up: boolean): void {
    const n = this.node(i);
    n.linkUp = up;
    if (n.alive && n.router !== undefined) {
      n.router.setLink(up, this.now);
      this.#sync(n);
    }
  }

  setTrack(i: number, name: string, up: boolean): void {
    const n = this.node(i);
    n.tracks.set(name, up);
    if (n.alive && n.router !== undefined) {
      n.router.setTrack(name, up, this.now);
      this.#sync(n);
    }
  }

  /** Splits the segment: each node goes to the group whose list holds it (others to group 0). */
  partition(groups: readonly (readonly number[])[]): void {
    for (const n of this.nodes) n.group = 0;
    groups.forEach((members, g) => {
      for (const i of members) this.node(i).group = g;
    });
  }

  heal(): void {
    for (const n of this.nodes) n.group = 0;
  }

  /** Runs fn at time `at` (>= now). */
  at(at: number, fn: () => void): void {
    this.#queue.push({ kind: 'call', at: Math.max(at, this.now), seq: this.#seq++, fn });
  }

  runUntil(t: number): void {
    for (let e = this.#queue.peek(); e !== undefined && e.at <= t; e = this.#queue.peek()) {
      this.#queue.pop();
      this.now = e.at;
      this.#handle(e);
    }
    this.now = t;
  }

  runFor(ms: number): void {
    this.runUntil(this.now + ms);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Nodes that can talk to each other, as groups of ids (alive, link up, same partition). */
  connectedGroups(): number[][] {
    const groups = new Map<number, number[]>();
    for (const n of this.nodes) {
      if (!n.alive || !n.linkUp) continue;
      const g = groups.get(n.group) ?? [];
      g.push(n.id);
      groups.set(n.group, g);
    }
    return [...groups.values()];
  }

  recordsSince(t: number, node?: number): SimRecord[] {
    return this.records.filter((r) => r.at >= t && (node === undefined || r.node === node));
  }

  lastDelivery(from: number, to: number, before: number): Delivery | undefined {
    for (let k = this.deliveries.length - 1; k >= 0; k--) {
      const d = this.deliveries[k];
      if (d !== undefined && d.from === from && d.to === to && d.at <= before) return d;
    }
    return undefined;
  }

  // ---- internals -----------------------------------------------------------------------------

  #handle(e: SimEvent): void {
    if (e.kind === 'call') {
      e.fn();
      return;
    }
    if (e.kind === 'timer') {
      const n = this.node(e.node);
      if (e.gen !== n.timerGen || !n.alive || n.router === undefined) return;
      n.router.timeout(this.now);
      this.#sync(n);
      return;
    }
    const n = this.node(e.to);
    if (!n.alive || !n.linkUp || n.router === undefined) return;
    const decoded = decodeAdvert(e.bytes, { family: n.config.family, src: e.src, dst: e.dst });
    this.deliveries.push({ at: this.now, sentAt: e.sentAt, from: e.from, to: e.to, priority: decoded.ok ? decoded.advert.priority : -1 });
    n.router.receive(e.bytes, { src: e.src, dst: e.dst, ttl: 255 }, this.now);
    this.#sync(n);
  }

  /** Drains the router's actions (sending adverts) and re-arms its timer. */
  #sync(n: SimNode): void {
    const router = n.router;
    if (router === undefined) return;
    for (let a = router.pollAction(); a !== undefined; a = router.pollAction()) {
      this.records.push({ at: this.now, node: n.id, action: a });
      if (a.kind === 'send') this.#send(n, a);
    }
    n.timerGen++;
    const t = router.nextTimeout();
    if (t !== undefined && n.alive) {
      this.#queue.push({ kind: 'timer', at: Math.max(t, this.now), seq: this.#seq++, node: n.id, gen: n.timerGen });
    }
  }

  #send(n: SimNode, a: Extract<Action, { kind: 'send' }>): void {
    if (!n.alive || !n.linkUp) return;
    const group = multicastGroup(n.config.family);
    for (const dst of a.to) {
      const targets = dst === group ? this.nodes.map((m) => m.id).filter((id) => id !== n.id) : [this.#byAddress.get(dst)];
      for (const to of targets) {
        if (to === undefined || !this.connected(n.id, to)) continue;
        if (this.lossProbability > 0 && this.rng.next() < this.lossProbability) {
          this.lost++;
          continue;
        }
        this.#queue.push({
          kind: 'deliver',
          at: this.now + this.delay(n.id, to),
          seq: this.#seq++,
          sentAt: this.now,
          from: n.id,
          to,
          bytes: a.bytes,
          src: a.src,
          dst,
        });
      }
    }
  }
}
