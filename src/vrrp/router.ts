// One virtual router: the RFC 5798 §6 state machine (Initialize, Backup, Master) plus Fault
// (link down, or a weight-0 track down, as keepalived has), sans I/O.
//
// The host feeds inputs with the current time (milliseconds on a monotonic clock) and drains
// actions with pollAction(); the router never reads a clock, opens a socket or sets a timer. It
// asks to be woken at nextTimeout() by a call to timeout(now).
//
// Beyond the RFC, following keepalived: tracked checks adjust the priority (or force Fault),
// preempt delay, a priority-0 advert when leaving Master for Fault, gratuitous ARP / NA bursts
// (a second one after a delay, and an optional periodic refresh). Two deliberate improvements
// over keepalived (shared/LAB-NOTES.md, "Two keepalived weaknesses"), which close the window in
// which clients keep the MAC of a node that was master during a partition:
//  a) a Master hearing a lower-priority advert (another node also thinks it is master) answers
//     with its own advert at once and re-announces its VIPs, so clients move back now;
//  b) a Master yielding to a higher-priority advert first sends one advert of its own current
//     priority, so that the winner (kubelived, or keepalived, both of which answer a lower
//     advert as master) re-announces at once even if it never heard us before we yielded.
import { compareAddressBytes, parseAddress } from './address.ts';
import { normalizeConfig, type NormalizedConfig, type RouterConfig } from './config.ts';
import { emptyDropCounters, type DropReason } from './drop-reason.ts';
import { encodeAdvert, type Advert } from './packet.ts';
import { masterDownIntervalMs, skewTimeMs } from './timers.ts';
import { createValidator, type ReceiveMeta, type Validator } from './validate.ts';

export type { GarpConfig, RouterConfig, TrackConfig } from './config.ts';
export type { ReceiveMeta } from './validate.ts';

export const STATES = ['Initialize', 'Backup', 'Master', 'Fault'] as const;
export type State = (typeof STATES)[number];

export type Action =
  | { kind: 'send'; bytes: Uint8Array; to: string[]; src: string }
  | { kind: 'addVips'; addresses: string[] }
  | { kind: 'removeVips'; addresses: string[] }
  | { kind: 'announce'; addresses: string[]; repeat: number }
  | { kind: 'transition'; from: State; to: State; reason: string; at: number; masterIP?: string };

export interface RouterStats {
  advertsSent: number;
  /** Valid adverts (after validation), whatever the state did with them. */
  advertsReceived: number;
  priorityZeroReceived: number;
  transitions: number;
  drops: Record<DropReason, number>;
  /** Adverts accepted from an address owner (priority 255) whose address list differs from ours. */
  ownerAddressListMismatches: number;
}

interface TrackState {
  readonly weight: number;
  up: boolean;
}

/** Announce repeat for the periodic refresh: one per address, as keepalived's default. */
const REFRESH_REPEAT = 1;

export class VrrpRouter {
  readonly stats: RouterStats = {
    advertsSent: 0,
    advertsReceived: 0,
    priorityZeroReceived: 0,
    transitions: 0,
    drops: emptyDropCounters(),
    ownerAddressListMismatches: 0,
  };

  #cfg: NormalizedConfig;
  #validate: Validator;
  readonly #tracks = new Map<string, TrackState>();
  #actions: Action[] = [];
  #head = 0;

  #state: State = 'Initialize';
  #linkUp = true;
  #effective: number;
  #masterIP: string | undefined;
  /** v3: learned from the master's adverts while Backup; v2: always ours. */
  #masterAdverIntervalCs: number;

  // Backup
  #masterDownAt: number | undefined;
  /** What the Master_Down_Timer expiring will mean, for the transition's reason. */
  #downReason = 'master-down timer expired';
  /** keepalived preempt_delay: until when lower-priority adverts are still accepted. */
  #preemptDeadline: number | undefined;

  // Master
  #adverAt: number | undefined;
  #garpDelayAt: number | undefined;
  #garpRefreshAt: number | undefined;

  constructor(config: RouterConfig) {
    this.#cfg = normalizeConfig(config);
    for (const t of config.tracks) this.#tracks.set(t.name, { weight: t.weight, up: true });
    this.#validate = validatorFor(this.#cfg);
    this.#masterAdverIntervalCs = config.advertIntervalCs;
    this.#effective = this.#computePriority();
  }

  get config(): RouterConfig {
    return this.#cfg.raw;
  }

  /**
   * Replaces a unicast router's peers in place, whatever its state: adverts go to the new list
   * from the next one on, and only the new peers are heard. Throws RangeError, changing nothing,
   * when the list is unusable or the router is a multicast one.
   */
  setUnicastPeers(peers: string[]): void {
    if (!this.#cfg.unicast) throw new RangeError(`invalid VRRP router config ${this.#cfg.raw.name}: a multicast router has no peers to set`);
    const cfg = normalizeConfig({ ...this.#cfg.raw, unicastPeers: peers });
    this.#validate = validatorFor(cfg);
    this.#cfg = cfg;
  }

  get state(): State {
    return this.#state;
  }

  /** Base priority adjusted by the tracks' weights (what our adverts carry). */
  get effectivePriority(): number {
    return this.#effective;
  }

  /** Master: our address; Backup: the source of the master's adverts, once heard. */
  get masterIP(): string | undefined {
    return this.#masterIP;
  }

  /** Current Master_Adver_Interval in centiseconds (learned from the master in v3 Backup). */
  get masterAdverIntervalCs(): number {
    return this.#masterAdverIntervalCs;
  }

  /** Master_Down_Interval in ms for the current priority and Master_Adver_Interval. */
  get masterDownIntervalMs(): number {
    return masterDownIntervalMs(this.config.version, this.#effective, this.#masterAdverIntervalCs);
  }

  /** Skew_Time in ms for the current priority and Master_Adver_Interval. */
  get skewTimeMs(): number {
    return skewTimeMs(this.config.version, this.#effective, this.#masterAdverIntervalCs);
  }

  pollAction(): Action | undefined {
    if (this.#head >= this.#actions.length) return undefined;
    const action = this.#actions[this.#head];
    this.#actions[this.#head++] = undefined as unknown as Action; // let the bytes go
    if (this.#head === this.#actions.length) {
      this.#actions = [];
      this.#head = 0;
    }
    return action;
  }

  nextTimeout(): number | undefined {
    let next: number | undefined;
    for (const t of [this.#masterDownAt, this.#adverAt, this.#garpDelayAt, this.#garpRefreshAt]) {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }

  start(now: number): void {
    if (this.#state !== 'Initialize') return;
    this.#effective = this.#computePriority();
    const fault = this.#faultCause();
    if (fault !== undefined) this.#enterFault(now, fault);
    else if (this.#cfg.addressOwner) this.#becomeMaster(now, 'address owner');
    else this.#enterBackup(now, 'startup', this.config.advertIntervalCs);
  }

  shutdown(now: number): void {
    const from = this.#state;
    if (from === 'Initialize') return;
    this.#state = 'Initialize';
    this.#transition(from, now, 'shutdown');
    if (from === 'Master') {
      // RFC 5798 §6.4.3: a priority-0 advert lets the backups take over after Skew_Time
      // instead of Master_Down_Interval.
      this.#sendAdvert(0);
      this.#emit({ kind: 'removeVips', addresses: [...this.#cfg.virtualIPs] });
    }
    this.#clearTimers();
    this.#masterIP = undefined;
  }

  receive(bytes: Uint8Array, meta: ReceiveMeta, now: number): void {
    if (this.#state === 'Initialize') {
      this.#drop('not-running');
      return;
    }
    let result;
    try {
      result = this.#validate(bytes, meta);
    } catch {
      // The validator is built not to throw; if it ever does, count it rather than take the
      // host's event loop down with one bad packet.
      result = { ok: false as const, reason: 'truncated' as const };
    }
    if (!result.ok) {
      this.#drop(result.reason);
      return;
    }
    const { advert, src } = result;
    this.stats.advertsReceived++;
    if (advert.priority === 0) this.stats.priorityZeroReceived++;
    if (result.addressListMismatch) this.stats.ownerAddressListMismatches++;

    if (this.#state === 'Backup') this.#backupReceive(advert, src, now);
    else if (this.#state === 'Master') this.#masterReceive(advert, src, now);
    // Fault: valid adverts are counted and otherwise ignored; leaving Fault starts afresh.
  }

  timeout(now: number): void {
    if (this.#state === 'Backup') {
      if (this.#masterDownAt !== undefined && now >= this.#masterDownAt) {
        this.#becomeMaster(now, this.#downReason);
      }
      return;
    }
    if (this.#state !== 'Master') return;
    if (this.#adverAt !== undefined && now >= this.#adverAt) {
      this.#sendAdvert(this.#effective);
      this.#adverAt = now + this.config.advertIntervalCs * 10;
    }
    if (this.#garpDelayAt !== undefined && now >= this.#garpDelayAt) {
      this.#garpDelayAt = undefined;
      this.#announce(this.config.garp.repeat);
    }
    if (this.#garpRefreshAt !== undefined && now >= this.#garpRefreshAt) {
      this.#garpRefreshAt = now + this.config.garp.refreshMs;
      this.#announce(REFRESH_REPEAT);
    }
  }

  /** A tracked check changed; unknown names are ignored (a stale result after a config change). */
  setTrack(name: string, up: boolean, now: number): void {
    const track = this.#tracks.get(name);
    if (track === undefined || track.up === up) return;
    track.up = up;
    this.#conditionsChanged(now, `track ${name} ${up ? 'up' : 'down'}`);
  }

  setLink(up: boolean, now: number): void {
    if (this.#linkUp === up) return;
    this.#linkUp = up;
    this.#conditionsChanged(now, up ? 'link up' : 'link down');
  }

  // ---- receive processing ----------------------------------------------------------------

  /** RFC 5798 §6.4.2, with keepalived's nopreempt and preempt delay. */
  #backupReceive(advert: Advert, src: string, now: number): void {
    if (advert.priority === 0) {
      // The master is leaving: take over after Skew_Time unless someone else speaks first.
      this.#masterDownAt = now + this.skewTimeMs;
      this.#downReason = 'priority-0 advert';
      this.#masterIP = undefined;
      return;
    }
    const { preempt, preemptDelayMs } = this.config;
    const lower = advert.priority < this.#effective;
    const delaying = preempt && preemptDelayMs > 0 && (this.#preemptDeadline === undefined || now < this.#preemptDeadline);
    this.#masterIP = src;
    if (!preempt || !lower || delaying) {
      if (this.config.version === 3) this.#masterAdverIntervalCs = advert.intervalCs;
      this.#masterDownAt = now + this.masterDownIntervalMs;
      this.#downReason = 'master-down timer expired';
      if (preempt && preemptDelayMs > 0) {
        // keepalived: the delay starts at the first lower-priority advert heard (at startup,
        // within one interval of start) and is cancelled by an advert we would not preempt.
        if (!lower) this.#preemptDeadline = undefined;
        else this.#preemptDeadline ??= now + preemptDelayMs;
      }
      return;
    }
    // Preempt: discard, and let the running Master_Down_Timer expire.
    this.#downReason = `preempting lower priority master ${src} (${advert.priority})`;
  }

  /** RFC 5798 §6.4.3, plus improvements a) and b). */
  #masterReceive(advert: Advert, src: string, now: number): void {
    if (advert.priority === 0) {
      // RFC: answer so the backups do not take over after Skew_Time. The sender was acting as
      // master (it just released the VIPs), so clients may still point at it: re-announce.
      this.#sendAdvert(this.#effective);
      this.#adverAt = now + this.config.advertIntervalCs * 10;
      this.#announce(this.config.garp.repeat);
      return;
    }
    const srcBytes = parseAddress(src)?.bytes ?? new Uint8Array(0);
    const addrCmp = compareAddressBytes(srcBytes, this.#cfg.local.bytes);
    const higher = advert.priority > this.#effective || (advert.priority === this.#effective && addrCmp > 0);
    if (higher) {
      const reason =
        advert.priority > this.#effective
          ? `higher priority advert from ${src} (${advert.priority})`
          : `equal priority advert from higher address ${src} (${advert.priority})`;
      this.#state = 'Backup';
      this.#clearTimers();
      this.#masterIP = src;
      this.#transition('Master', now, reason);
      this.#sendAdvert(this.#effective); // b) make the winner re-announce
      this.#emit({ kind: 'removeVips', addresses: [...this.#cfg.virtualIPs] });
      this.#masterAdverIntervalCs = this.config.version === 3 ? advert.intervalCs : this.config.advertIntervalCs;
      this.#masterDownAt = now + this.masterDownIntervalMs;
      this.#downReason = 'master-down timer expired';
      this.#preemptDeadline = undefined;
      return;
    }
    // a) Another node believes it is master (a healed partition): assert ourselves now.
    this.#sendAdvert(this.#effective);
    this.#adverAt = now + this.config.advertIntervalCs * 10;
    this.#announce(this.config.garp.repeat);
  }

  // ---- state changes -----------------------------------------------------------------------

  #enterBackup(now: number, reason: string, masterAdverIntervalCs: number): void {
    const from = this.#state;
    this.#state = 'Backup';
    this.#clearTimers();
    this.#masterIP = undefined;
    this.#masterAdverIntervalCs = masterAdverIntervalCs;
    this.#masterDownAt = now + this.masterDownIntervalMs;
    this.#downReason = 'master-down timer expired';
    this.#preemptDeadline = undefined;
    this.#transition(from, now, reason);
  }

  #becomeMaster(now: number, reason: string): void {
    const from = this.#state;
    this.#state = 'Master';
    this.#clearTimers();
    this.#masterIP = this.#cfg.local.text;
    this.#masterAdverIntervalCs = this.config.advertIntervalCs;
    this.#transition(from, now, reason);
    this.#emit({ kind: 'addVips', addresses: [...this.#cfg.virtualIPs] });
    this.#announce(this.config.garp.repeat);
    this.#sendAdvert(this.#effective);
    const { delayMs, refreshMs } = this.config.garp;
    this.#adverAt = now + this.config.advertIntervalCs * 10;
    this.#garpDelayAt = delayMs > 0 ? now + delayMs : undefined;
    this.#garpRefreshAt = refreshMs > 0 ? now + refreshMs : undefined;
  }

  #enterFault(now: number, reason: string): void {
    const from = this.#state;
    this.#state = 'Fault';
    this.#clearTimers();
    this.#masterIP = undefined;
    this.#transition(from, now, reason);
    if (from === 'Master') {
      // keepalived sends priority 0 on entering FAULT so a backup takes over after the skew;
      // pointless with the link down.
      if (this.#linkUp) this.#sendAdvert(0);
      this.#emit({ kind: 'removeVips', addresses: [...this.#cfg.virtualIPs] });
    }
  }

  #conditionsChanged(now: number, reason: string): void {
    const before = this.#effective;
    this.#effective = this.#computePriority();
    if (this.#state === 'Initialize') return; // start() looks at the conditions
    const fault = this.#faultCause();
    if (fault !== undefined) {
      if (this.#state !== 'Fault') this.#enterFault(now, reason);
      return;
    }
    if (this.#state === 'Fault') {
      if (this.#cfg.addressOwner) this.#becomeMaster(now, reason);
      else this.#enterBackup(now, reason, this.config.advertIntervalCs);
      return;
    }
    if (this.#state === 'Master' && this.#effective !== before) {
      // Tell the backups now: one with preempt and a priority above our new one starts
      // discarding our adverts and takes over, instead of learning it an interval later.
      this.#sendAdvert(this.#effective);
      this.#adverAt = now + this.config.advertIntervalCs * 10;
    }
  }

  /**
   * keepalived semantics: base + weights of down negative tracks + weights of up positive
   * tracks, clamped to 1..254. The address owner stays 255 (its tracks can only fault it).
   */
  #computePriority(): number {
    const base = this.config.priority;
    if (base === 255) return 255;
    let p = base;
    for (const t of this.#tracks.values()) {
      if (t.weight < 0 && !t.up) p += t.weight;
      else if (t.weight > 0 && t.up) p += t.weight;
    }
    return Math.min(254, Math.max(1, p));
  }

  /** Why we must be in Fault, if we must. The owner treats every track as weight 0. */
  #faultCause(): string | undefined {
    if (!this.#linkUp) return 'link down';
    for (const [name, t] of this.#tracks) {
      if (!t.up && (t.weight === 0 || this.#cfg.addressOwner)) return `track ${name} down`;
    }
    return undefined;
  }

  // ---- outputs -----------------------------------------------------------------------------

  #emit(action: Action): void {
    this.#actions.push(action);
  }

  #transition(from: State, now: number, reason: string): void {
    this.stats.transitions++;
    const action: Action = { kind: 'transition', from, to: this.#state, reason, at: now };
    if (this.#masterIP !== undefined) action.masterIP = this.#masterIP;
    this.#emit(action);
  }

  #announce(repeat: number): void {
    this.#emit({ kind: 'announce', addresses: [...this.#cfg.virtualIPs], repeat });
  }

  #sendAdvert(priority: number): void {
    const c = this.config;
    const advert: Advert = {
      version: c.version,
      vrid: c.vrid,
      priority,
      intervalCs: c.advertIntervalCs,
      addresses: [...this.#cfg.virtualIPs],
    };
    if (c.version === 2) {
      advert.authType = this.#cfg.authType;
      advert.authData = this.#cfg.authData;
    }
    const src = this.#cfg.local.text;
    // The v3 checksum covers the destination address: one packet per unicast peer.
    for (const dst of this.#cfg.destinations) {
      const bytes = encodeAdvert(advert, { family: c.family, src, dst });
      this.#emit({ kind: 'send', bytes, to: [dst], src });
    }
    // A unicast router alone sends to no one: nothing to count.
    if (this.#cfg.destinations.length > 0) this.stats.advertsSent++;
  }

  #drop(reason: DropReason): void {
    this.stats.drops[reason]++;
  }

  #clearTimers(): void {
    this.#masterDownAt = undefined;
    this.#adverAt = undefined;
    this.#garpDelayAt = undefined;
    this.#garpRefreshAt = undefined;
  }
}

function validatorFor(cfg: NormalizedConfig): Validator {
  const c = cfg.raw;
  return createValidator({
    version: c.version,
    family: c.family,
    vrid: c.vrid,
    addresses: cfg.virtualIPs,
    advertIntervalCs: c.advertIntervalCs,
    authType: cfg.authType,
    authData: cfg.authData,
    addressOwner: cfg.addressOwner,
    localAddress: cfg.local.text,
    unicastPeers: cfg.unicastPeers,
    unicast: cfg.unicast,
  });
}
