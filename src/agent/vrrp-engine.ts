// Drives the sans-I/O routers with real time, real sockets and real addresses. It owns one
// timer (the earliest deadline of all routers) and drains every router's actions right after
// each input, so a received advert or an expired timer turns into packets at once.
import { VrrpRouter } from '../vrrp/router.ts';
import { decodeAdvert } from '../vrrp/packet.ts';
import type { Action, RouterConfig } from '../vrrp/router.ts';
import { Rtnl } from '../net/rtnl.ts';
import type { AddressInfo } from '../net/rtnl.ts';
import { VrrpSocket } from '../net/vrrp-socket.ts';
import type { VrrpMessage } from '../net/vrrp-socket.ts';
import { announce } from '../net/announce.ts';
import { PreciseTimer } from '../net/timer.ts';
import { inSubnet, isLinkLocal } from '../api/address.ts';
import type { Family } from '../api/address.ts';
import { MAX_HAND_OVER_MS } from './messages.ts';
import type { FromVrrpThread, InstancePlan, InstanceSnapshot } from './messages.ts';
import { VipSet, vipLifetimeS } from './vip-set.ts';
import { rehearse } from './rehearsal.ts';

const VIP_REFRESH_MS = 500;


interface Slot {
  plan: InstancePlan;
  key: string;
  router: VrrpRouter;
  socket: SharedSocket;
  ifindex: number;
  vips: VipSet;
  lastAdvertAt: number | undefined;
}

/** A stopping master waiting for its successor's first advert before it drops the VIPs. */
interface HandOver {
  socketKey: string;
  vrid: number;
  family: Family;
  done: () => void;
}

interface SharedSocket {
  key: string;
  socket: VrrpSocket;
  users: number;
}

/**
 * The part of a plan whose change requires restarting the router: not live track state, nor a
 * unicast instance's peers (a node joining or leaving would otherwise move the VIPs twice),
 * unless they change which address the adverts must come from.
 */
function planKey(p: InstancePlan): string {
  const tracks = p.tracks.map((t) => ({ name: t.name, weight: t.weight }));
  return JSON.stringify({ ...p, unicastPeers: undefined, globalSource: globalSource(p), tracks });
}

/**
 * IPv6 adverts come from the link-local address (RFC 5798 5.1.2.1), except unicast ones to
 * peers that are not link-local (as Nodes' InternalIPs are): those check the source against
 * their own peer lists, so it must be a global address. A node alone expects global peers.
 */
function globalSource(p: InstancePlan): boolean {
  return p.family === 6 && p.unicast && !(p.unicastPeers.length > 0 && p.unicastPeers.every(isLinkLocal));
}

export class VrrpEngine {
  private readonly slots = new Map<string, Slot>();
  private readonly sockets = new Map<string, SharedSocket>();
  private readonly handOvers = new Set<HandOver>();
  private readonly rtnl = new Rtnl();
  private readonly timer = new PreciseTimer(() => this.onTimer());
  private deadline: number | undefined;
  private maxLatenessMs = 0;
  private unknownVridDrops = 0;
  private readonly refresher: NodeJS.Timeout;
  private readonly post: (m: FromVrrpThread) => void;
  /**
   * Every track's latest result, by instance and track, kept apart from the routers: a result
   * that arrives while configure() is still starting its instance is applied when it starts.
   */
  private readonly trackUp = new Map<string, Map<string, boolean>>();
  /** configure() runs one at a time, in the order the plans came. */
  private configuring: Promise<void> = Promise.resolve();

  constructor(post: (m: FromVrrpThread) => void) {
    this.post = post;
    this.refresher = setInterval(() => this.refreshVips(), VIP_REFRESH_MS);
    this.rtnl.subscribe((ev) => {
      if (ev.kind === 'link') this.linkChanged([ev]);
      // Events were lost: read every link's state again.
      if (ev.kind === 'overrun') void this.rtnl.listLinks().then((links) => this.linkChanged(links));
    }, (e) => this.log('error', 'netlink monitor error', { err: String(e) }));
  }

  private linkChanged(links: { ifindex: number; up: boolean; carrier: boolean }[]): void {
    const now = performance.now();
    for (const l of links) {
      for (const s of this.slots.values()) if (s.ifindex === l.ifindex) s.router.setLink(l.up && l.carrier, now);
    }
    this.drainAll(now);
  }

  /**
   * Applies a whole desired set: unchanged instances keep running (only their tracks take the
   * plans' states). The plans' track states are as new as any track result sent before them,
   * so they are recorded at once; results sent after them follow as setTrack().
   */
  configure(plans: InstancePlan[]): Promise<void> {
    this.trackUp.clear();
    for (const p of plans) this.trackUp.set(p.name, new Map(p.tracks.map((t) => [t.name, t.up])));
    const run = this.configuring.then(() => this.apply(plans));
    this.configuring = run.catch(() => undefined); // the caller sees the failure; the next run goes on
    return run;
  }

  private async apply(plans: InstancePlan[]): Promise<void> {
    const wanted = new Map(plans.map((p) => [p.name, p]));
    const stale = [...this.slots.values()].filter((slot) => {
      const p = wanted.get(slot.plan.name);
      return !p || planKey(p) !== slot.key;
    });
    await Promise.all(stale.map((slot) => this.stopSlot(slot)));
    const now = performance.now();
    for (const slot of this.slots.values()) {
      const p = wanted.get(slot.plan.name);
      if (p) this.applyPeers(slot, p);
      this.applyTracks(slot, now);
    }
    this.reschedule();
    for (const p of plans) {
      if (this.slots.has(p.name)) continue;
      try {
        await this.startSlot(p);
      } catch (e) {
        this.log('error', 'cannot start instance', { instance: p.name, err: String(e) });
      }
    }
  }

  setTrack(instance: string, track: string, up: boolean): void {
    const states = this.trackUp.get(instance);
    // A result of an instance the last plans no longer have: its router is going, or gone.
    if (!states?.has(track)) return;
    states.set(track, up);
    const slot = this.slots.get(instance);
    if (!slot) return; // starting: startSlot() applies it
    const now = performance.now();
    slot.router.setTrack(track, up, now);
    this.drain(slot, now);
    this.reschedule();
  }

  /** A running unicast instance takes a changed peer list in place; a refused one keeps the old. */
  private applyPeers(slot: Slot, plan: InstancePlan): void {
    const before = slot.plan.unicastPeers;
    if (before.length === plan.unicastPeers.length && before.every((a, i) => a === plan.unicastPeers[i])) return;
    try {
      slot.router.setUnicastPeers(plan.unicastPeers);
      slot.plan = plan;
      this.log('info', 'unicast peers changed', { instance: plan.name, peers: plan.unicastPeers });
    } catch (e) {
      this.log('error', 'cannot change unicast peers', { instance: plan.name, peers: plan.unicastPeers, err: String(e) });
    }
  }

  /** Sets every track of the slot's router to its latest result (the router ignores no-ops). */
  private applyTracks(slot: Slot, now: number): void {
    const states = this.trackUp.get(slot.plan.name);
    for (const t of slot.plan.tracks) slot.router.setTrack(t.name, states?.get(t.name) ?? t.up, now);
    this.drain(slot, now);
  }

  async shutdown(): Promise<void> {
    clearInterval(this.refresher);
    await Promise.all([...this.slots.values()].map((slot) => this.stopSlot(slot)));
    this.timer.close();
    this.rtnl.close();
  }

  snapshot(): FromVrrpThread {
    const instances: InstanceSnapshot[] = [...this.slots.values()].map((s) => ({
      name: s.plan.name,
      state: s.router.state,
      effectivePriority: s.router.effectivePriority,
      masterIP: s.router.masterIP,
      advertsSent: s.router.stats.advertsSent,
      advertsReceived: s.router.stats.advertsReceived,
      drops: { ...s.router.stats.drops },
    }));
    const lateness = this.maxLatenessMs;
    this.maxLatenessMs = 0;
    return { type: 'snapshot', instances, timerLatenessMs: lateness, unknownVridDrops: this.unknownVridDrops };
  }

  private async startSlot(plan: InstancePlan): Promise<void> {
    const addrs = await this.rtnl.listAddresses({ family: plan.family });
    const links = await this.rtnl.listLinks();
    const ifname = plan.ifname ?? this.autoInterface(plan, addrs, links);
    const link = links.find((l) => l.name === ifname);
    if (!link) throw new Error(`interface ${ifname} does not exist`);
    const localAddress = this.localAddress(plan, addrs.filter((a) => a.ifindex === link.ifindex));
    const vips = new VipSet(this.rtnl, link.ifindex, plan.vips, vipLifetimeS(plan.advertIntervalCs));
    // A previous run killed with SIGKILL may have left VIPs behind; we start as backup, so any
    // VIP of ours on the interface is stale (an address owner, priority 255, really owns it).
    if (plan.priority !== 255) {
      const removed = await vips.removeStale(addrs);
      if (removed.length > 0) this.log('warn', 'removed stale VIPs', { instance: plan.name, addresses: removed });
    }
    const config: RouterConfig = {
      name: plan.name, vrid: plan.vrid, version: plan.version, family: plan.family,
      priority: plan.priority, virtualIPs: plan.vips.map((v) => v.address),
      advertIntervalCs: plan.advertIntervalCs, preempt: plan.preempt,
      preemptDelayMs: plan.preemptDelayMs,
      ...(plan.authPassword !== undefined ? { authPassword: plan.authPassword } : {}),
      unicast: plan.unicast, unicastPeers: plan.unicastPeers, localAddress,
      tracks: plan.tracks.map((t) => ({ name: t.name, weight: t.weight })),
      garp: plan.garp,
    };
    rehearse(config);
    const router = new VrrpRouter(config);
    const socket = this.acquireSocket(ifname, plan.family, !plan.unicast);
    const slot: Slot = { plan, key: planKey(plan), router, socket, ifindex: link.ifindex, vips, lastAdvertAt: undefined };
    this.slots.set(plan.name, slot);
    const now = performance.now();
    // Before start(): a track already down puts the router in FAULT or lowers it from the outset.
    this.applyTracks(slot, now);
    router.setLink(link.up && link.carrier, now);
    router.start(now);
    this.drain(slot, now);
    this.reschedule();
    this.log('info', 'instance started', { instance: plan.name, interface: ifname, localAddress, vrid: plan.vrid });
  }

  /**
   * Shutdown of one instance. A master sends priority 0 at once (the backup takes over after
   * its skew time, RFC 5798) but keeps answering for its VIPs until the successor's first
   * advert arrives: make-before-break, so clients see no gap during the hand-over. If no
   * successor shows up within a Master_Down_Interval the VIPs go anyway.
   */
  private async stopSlot(slot: Slot): Promise<void> {
    const now = performance.now();
    const handOverMs = Math.min(slot.router.masterDownIntervalMs, MAX_HAND_OVER_MS);
    slot.router.shutdown(now);
    let held: string[] = [];
    for (let a = slot.router.pollAction(); a; a = slot.router.pollAction()) {
      if (a.kind === 'removeVips') held = a.addresses;
      else this.perform(slot, a, now);
    }
    this.slots.delete(slot.plan.name);
    this.reschedule();
    if (held.length > 0) await this.waitForSuccessor(slot, handOverMs);
    slot.vips.remove(held, (e) => this.log('error', 'cannot remove VIP', { instance: slot.plan.name, err: String(e) }));
    await slot.vips.settled();
    this.releaseSocket(slot.socket);
  }

  private waitForSuccessor(slot: Slot, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const h: HandOver = {
        socketKey: slot.socket.key, vrid: slot.plan.vrid, family: slot.plan.family,
        done: () => {
          clearTimeout(timer);
          this.handOvers.delete(h);
          resolve();
        },
      };
      const timer = setTimeout(h.done, timeoutMs);
      this.handOvers.add(h);
    });
  }

  private autoInterface(plan: InstancePlan, addrs: AddressInfo[], links: { ifindex: number; name: string }[]): string {
    const vip = plan.vips[0];
    const holder = vip && addrs.find((a) => inSubnet(vip.address, { address: a.address, prefixLen: a.prefixLen, family: a.family }) && a.prefixLen < (a.family === 4 ? 32 : 128));
    const name = holder && links.find((l) => l.ifindex === holder.ifindex)?.name;
    if (!name) throw new Error(`no interface has an address in the subnet of ${vip?.address}; set spec.interface`);
    return name;
  }

  /** The advert source: the IPv4 primary address, or an IPv6 one of the scope globalSource() says. */
  private localAddress(plan: InstancePlan, onLink: AddressInfo[]): string {
    const vipSet = new Set(plan.vips.map((v) => v.address));
    const global = globalSource(plan);
    const candidates = onLink.filter((a) => !vipSet.has(a.address) && (plan.family === 4 || isLinkLocal(a.address) !== global));
    const first = candidates[0];
    if (!first) throw new Error(`interface has no ${plan.family === 4 ? 'IPv4' : global ? 'global IPv6' : 'IPv6 link-local'} address to send adverts from`);
    return first.address;
  }

  private acquireSocket(ifname: string, family: Family, multicast: boolean): SharedSocket {
    const key = `${ifname}/${family}/${multicast ? 'mc' : 'uc'}`;
    let shared = this.sockets.get(key);
    if (!shared) {
      const socket = VrrpSocket.open({ family, ifname, multicast },
        (m) => this.onMessage(key, m),
        (e) => this.log('error', 'VRRP socket error', { socket: key, err: String(e) }));
      shared = { key, socket, users: 0 };
      this.sockets.set(key, shared);
    }
    shared.users++;
    return shared;
  }

  private releaseSocket(shared: SharedSocket): void {
    if (--shared.users > 0) return;
    shared.socket.close();
    this.sockets.delete(shared.key);
  }

  private onMessage(socketKey: string, m: VrrpMessage): void {
    const now = performance.now();
    const vrid = m.payload[1];
    let matched = false;
    for (const slot of this.slots.values()) {
      if (slot.socket.key !== socketKey || slot.plan.vrid !== vrid) continue;
      matched = true;
      const before = slot.router.stats.advertsReceived;
      slot.router.receive(m.payload, { src: m.src, dst: m.dst, ttl: m.ttl }, now);
      if (slot.router.stats.advertsReceived !== before) slot.lastAdvertAt = now;
      this.drain(slot, now);
    }
    for (const h of this.handOvers) {
      if (h.socketKey !== socketKey || h.vrid !== vrid) continue;
      const d = decodeAdvert(m.payload, { family: h.family, src: m.src, dst: m.dst });
      if (d.ok && d.advert.priority > 0) h.done();
    }
    if (!matched) this.unknownVridDrops++;
    this.reschedule();
  }

  private onTimer(): void {
    const now = performance.now();
    if (this.deadline !== undefined) this.maxLatenessMs = Math.max(this.maxLatenessMs, now - this.deadline);
    this.deadline = undefined;
    for (const slot of this.slots.values()) {
      const t = slot.router.nextTimeout();
      if (t !== undefined && t <= now) slot.router.timeout(now);
    }
    this.drainAll(now);
  }

  private drainAll(now: number): void {
    for (const slot of this.slots.values()) this.drain(slot, now);
    this.reschedule();
  }

  private reschedule(): void {
    let next: number | undefined;
    for (const slot of this.slots.values()) {
      const t = slot.router.nextTimeout();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    if (next === this.deadline) return;
    this.deadline = next;
    if (next === undefined) this.timer.disarm();
    else this.timer.arm(next - performance.now());
  }

  private drain(slot: Slot, now: number): void {
    for (let a = slot.router.pollAction(); a; a = slot.router.pollAction()) this.perform(slot, a, now);
  }

  private perform(slot: Slot, a: Action, now: number): void {
    switch (a.kind) {
      case 'send':
        for (const dst of a.to) {
          try {
            slot.socket.socket.send(Buffer.from(a.bytes), dst, a.src);
          } catch (e) {
            this.log('warn', 'advert send failed', { instance: slot.plan.name, dst, err: String(e) });
          }
        }
        break;
      case 'addVips':
        slot.vips.add(a.addresses, (e) => this.log('error', 'cannot add VIP', { instance: slot.plan.name, err: String(e) }));
        break;
      case 'removeVips':
        slot.vips.remove(a.addresses, (e) => this.log('error', 'cannot remove VIP', { instance: slot.plan.name, err: String(e) }));
        break;
      case 'announce':
        // No wait for the netlink ack: the kernel applies an rtnetlink request inside the
        // sendmsg() that addVips made, so the VIP is already on the interface here.
        for (const address of a.addresses) {
          try {
            announce({ ifindex: slot.ifindex, address, family: slot.plan.family, repeat: a.repeat });
          } catch (e) {
            this.log('warn', 'announce failed', { instance: slot.plan.name, address, err: String(e) });
          }
        }
        break;
      case 'transition': {
        const failoverMs = a.to === 'Master' && a.from === 'Backup' && slot.lastAdvertAt !== undefined
          ? now - slot.lastAdvertAt : undefined;
        this.post({ type: 'transition', instance: slot.plan.name, from: a.from, to: a.to, reason: a.reason, masterIP: a.masterIP, effectivePriority: slot.router.effectivePriority, failoverMs });
        break;
      }
    }
  }

  private refreshVips(): void {
    for (const slot of this.slots.values()) {
      if (slot.router.state !== 'Master') continue;
      slot.vips.refresh((e) => this.log('error', 'cannot refresh VIP', { instance: slot.plan.name, err: String(e) }));
    }
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    this.post({ type: 'log', level, msg, fields });
  }
}
