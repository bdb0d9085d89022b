// Scenarios for the deterministic simulation (run by simulation.test.ts): 2..5 routers with random priorities, preempt settings, tracks,
// versions and families on a simulated segment with per-link delay and loss, driven through
// partitions, heals, crashes, graceful shutdowns, restarts, link and track changes.
//
// Each epoch: one disruption, a phase with the seed's loss, then a loss-free quiet phase long
// enough for the protocol to settle from any state (RFC bound: preempt delay + Master_Down_
// Interval + a few advert intervals and link delays), after which we assert:
//  - exactly one Master per connected group (of running, link-up nodes not in Fault), every
//    other node Backup and following it (masterIP), and no node that would preempt it: a node
//    with a higher effective priority is allowed only if it has preempt off (nopreempt keeps a
//    lower live master, keepalived semantics);
//  - nothing changed state in the second half of the quiet phase (no flapping);
//  - Fault exactly where a link is down or a weight-0 track is down.
// In loss-free seeds the timing is checked too:
//  - after the master crashes, the first takeover happens exactly Master_Down_Interval after
//    the new master last heard the old one: that is between MDI - one advert interval and
//    MDI + link delay after the crash, and between MDI and MDI + delay after the last advert;
//  - after a graceful shutdown, exactly Skew_Time after the priority-0 advert arrived;
//  - after a heal that joins two masters, the winner re-announces within one advert interval
//    plus two link delays.
import assert from 'node:assert/strict';
import { compareAddressBytes, parseAddress } from '../../../src/vrrp/address.ts';
import type { VrrpVersion } from '../../../src/vrrp/packet.ts';
import type { RouterConfig } from '../../../src/vrrp/router.ts';
import { masterDownIntervalMs, skewTimeMs } from '../../../src/vrrp/timers.ts';
import { Prng } from './prng.ts';
import { Simulator } from './sim.ts';

export const EPOCHS = 20;

export interface Scenario {
  seed: number;
  version: VrrpVersion;
  family: 4 | 6;
  intervalCs: number;
  loss: number;
  maxDelayMs: number;
  configs: RouterConfig[];
}

export function scenario(seed: number): Scenario {
  const rng = new Prng(seed);
  const n = rng.int(2, 5);
  const [version, family] = rng.pick([[3, 4], [3, 4], [3, 6], [2, 4]] as const);
  const intervalCs = version === 2 ? rng.pick([100, 200]) : rng.pick([10, 20, 50, 100]);
  const unicast = rng.bool(0.3);
  const addr = (i: number): string => (family === 4 ? `198.18.0.${i + 1}` : `fe80::${(i + 1).toString(16)}`);
  const owner = rng.bool(0.1);
  const password = version === 2 && rng.bool(0.5) ? 'pw' : undefined; // the same on every node
  // v3 lets each router pick its interval; backups learn the master's (RFC 5798 §6.4.2).
  const mixedIntervals = version === 3 && rng.bool(0.3);
  const configs = Array.from({ length: n }, (_, i): RouterConfig => {
    const c: RouterConfig = {
      name: `n${i}`,
      vrid: 51,
      version,
      family,
      priority: owner && i === 0 ? 255 : rng.int(1, 254),
      virtualIPs: family === 4 ? ['198.18.0.100', '198.18.0.101'] : ['2001:db8::100'],
      advertIntervalCs: mixedIntervals ? intervalCs * rng.pick([1, 2, 3]) : intervalCs,
      preempt: rng.bool(0.7),
      preemptDelayMs: rng.bool(0.2) ? rng.pick([1, 3]) * intervalCs * 10 : 0,
      unicastPeers: unicast ? Array.from({ length: n }, (_, j) => addr(j)).filter((_, j) => j !== i) : [],
      localAddress: addr(i),
      tracks: [{ name: 'chk', weight: rng.pick([-60, -20, 0, 15]) }],
      garp: { repeat: 3, delayMs: rng.bool(0.3) ? 2 * intervalCs * 10 : 0, refreshMs: rng.bool(0.3) ? 5 * intervalCs * 10 : 0 },
    };
    if (password !== undefined) c.authPassword = password;
    return c;
  });
  // Ties on priority exercise the address tie-break.
  const c0 = configs[0];
  const c1 = configs[1];
  if (c0 !== undefined && c1 !== undefined && c0.priority !== 255 && rng.bool(0.25)) c1.priority = c0.priority;
  return {
    seed,
    version,
    family,
    intervalCs,
    loss: rng.pick([0, 0, 0.02, 0.1]),
    maxDelayMs: rng.pick([0.2, 1, 5, intervalCs]), // up to a tenth of the advert interval
    configs,
  };
}

/** a beats b as master: higher effective priority, ties by the higher address. */
function beats(sim: Simulator, a: number, b: number): boolean {
  const pa = sim.router(a).effectivePriority;
  const pb = sim.router(b).effectivePriority;
  if (pa !== pb) return pa > pb;
  const ba = parseAddress(sim.node(a).config.localAddress)?.bytes ?? new Uint8Array();
  const bb = parseAddress(sim.node(b).config.localAddress)?.bytes ?? new Uint8Array();
  return compareAddressBytes(ba, bb) > 0;
}

function shouldFault(sim: Simulator, i: number): boolean {
  const n = sim.node(i);
  if (!n.linkUp) return true;
  for (const t of n.config.tracks) {
    if (n.tracks.get(t.name) === false && (t.weight === 0 || n.config.priority === 255)) return true;
  }
  return false;
}

function mastersOf(sim: Simulator, members: readonly number[]): number[] {
  return members.filter((i) => sim.state(i) === 'Master');
}

function checkConverged(sim: Simulator, where: string): void {
  for (const i of sim.nodes.map((n) => n.id)) {
    if (!sim.node(i).alive) continue;
    assert.equal(sim.state(i) === 'Fault', shouldFault(sim, i), `${where}: node ${i} Fault state wrong (${sim.state(i)})`);
  }
  // Nodes whose link is down are not in any group (connectedGroups skips them).
  for (const group of sim.connectedGroups()) {
    const eligible = group.filter((i) => sim.state(i) !== 'Fault');
    if (eligible.length === 0) continue;
    const masters = mastersOf(sim, eligible);
    const desc = eligible.map((i) => `n${i}:${sim.state(i)}/${sim.router(i).effectivePriority}${sim.node(i).config.preempt ? '' : '/nopreempt'}`).join(' ');
    assert.equal(masters.length, 1, `${where}: group [${desc}] has ${masters.length} masters`);
    const m = masters[0] ?? -1;
    for (const i of eligible) {
      if (i === m) continue;
      assert.equal(sim.state(i), 'Backup', `${where}: [${desc}]`);
      assert.equal(sim.router(i).masterIP, parseAddress(sim.node(m).config.localAddress)?.text, `${where}: n${i} follows the wrong master [${desc}]`);
      const wouldPreempt = sim.node(i).config.preempt && sim.router(i).effectivePriority > sim.router(m).effectivePriority;
      assert.ok(!wouldPreempt, `${where}: n${i} outranks master n${m} with preempt on [${desc}]`);
    }
  }
}

export interface Counters {
  epochs: number;
  crashTimings: number;
  shutdownTimings: number;
  healAnnounces: number;
  transitions: number;
  lost: number;
}

export function runScenario(s: Scenario, counters: Counters): Simulator {
  const sim = new Simulator(s.configs, { seed: s.seed ^ 0x5a5a, minDelayMs: Math.min(0.05, s.maxDelayMs), maxDelayMs: s.maxDelayMs });
  const rng = new Prng(s.seed ^ 0xa5a5);
  const n = s.configs.length;
  /** Advertisement_Interval of node i in ms (what its adverts carry and backups learn). */
  const iv = (i: number): number => sim.node(i).config.advertIntervalCs * 10;
  const I = Math.max(...s.configs.map((c) => c.advertIntervalCs * 10));
  const maxDelay = Math.max(...s.configs.map((_, i) => Math.max(...s.configs.map((__, j) => sim.delay(i, j)))));
  const maxPreemptDelay = Math.max(...s.configs.map((c) => c.preemptDelayMs));
  const settle = maxPreemptDelay + 5 * I + masterDownIntervalMs(s.version, 1, I / 10) + 10 * maxDelay;
  const lossless = s.loss === 0;
  const intervals = [...new Set(s.configs.map((c) => c.advertIntervalCs * 10))].join('/');
  const tag = `seed ${s.seed} (${n} nodes, v${s.version} IPv${s.family}, ${intervals} ms, loss ${s.loss}, delay <= ${s.maxDelayMs} ms)`;

  for (let i = 0; i < n; i++) sim.start(i);
  sim.runFor(2 * settle);
  checkConverged(sim, `${tag} after start`);

  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const alive = sim.nodes.filter((x) => x.alive).map((x) => x.id);
    const down = sim.nodes.filter((x) => !x.alive).map((x) => x.id);
    const masters = alive.filter((i) => sim.state(i) === 'Master');
    const options: string[] = ['partition', 'heal', 'track'];
    if (alive.length > 0) options.push('crash', 'shutdown', 'link');
    if (down.length > 0) options.push('restart', 'restart');
    const partitioned = sim.nodes.some((x) => x.group !== 0);
    if (partitioned) options.push('heal', 'heal');
    const what = rng.pick(options);
    const t0 = sim.now;
    const where = `${tag} epoch ${epoch} (${what})`;
    let check: (() => void) | undefined;

    switch (what) {
      case 'partition': {
        const groups = rng.int(2, Math.min(3, n));
        sim.partition(Array.from({ length: groups }, (_, g) => sim.nodes.map((x) => x.id).filter((id) => id % groups === g || (rng.bool(0.3) && g === 0))));
        break;
      }
      case 'heal': {
        const before = sim.connectedGroups().map((g) => mastersOf(sim, g.filter((i) => sim.state(i) !== 'Fault')));
        sim.heal();
        const joined = before.flat();
        if (lossless && joined.length >= 2) {
          const winner = joined.reduce((w, m) => (beats(sim, m, w) ? m : w));
          check = () => {
            const announce = sim.recordsSince(t0, winner).find((r) => r.action.kind === 'announce');
            const bound = iv(winner) + 2 * maxDelay;
            assert.ok(announce !== undefined && announce.at - t0 <= bound + 1e-9, `${where}: n${winner} did not re-announce within ${bound} ms (${announce === undefined ? 'none' : announce.at - t0})`);
            counters.healAnnounces++;
          };
        }
        break;
      }
      case 'crash':
      case 'shutdown':
      case 'link':
      case 'track': {
        // Bias towards the master: its loss is what the protocol is for.
        const pool = what === 'track' ? sim.nodes.map((x) => x.id) : alive;
        const victim = masters.length > 0 && rng.bool(0.6) ? rng.pick(masters) : rng.pick(pool);
        const wasMaster = sim.state(victim) === 'Master';
        const group = sim.connectedGroups().find((g) => g.includes(victim))?.filter((i) => i !== victim && sim.state(i) === 'Backup') ?? [];
        if (what === 'crash') sim.crash(victim);
        else if (what === 'shutdown') sim.shutdown(victim);
        else if (what === 'link') sim.setLink(victim, !sim.node(victim).linkUp);
        else sim.setTrack(victim, 'chk', !(sim.node(victim).tracks.get('chk') ?? true));
        // How the master went, if it did: silently (crash, carrier lost) or with a priority-0
        // advert (shutdown, or Fault from a weight-0 track with the link up).
        const release = !wasMaster
          ? undefined
          : what === 'crash' || (what === 'link' && !sim.node(victim).linkUp)
            ? 'silent'
            : what === 'shutdown' || (what === 'track' && sim.state(victim) === 'Fault')
              ? 'priority-0'
              : undefined;
        if (lossless && release !== undefined && group.length > 0) {
          check = () => {
            const first = sim.records.find((r) => r.at > t0 && r.action.kind === 'transition' && r.action.to === 'Master' && group.includes(r.node));
            assert.ok(first !== undefined, `${where}: nobody took over from n${victim}`);
            const b = first.node;
            const p = sim.router(b).effectivePriority;
            const learnedCs = iv(victim) / 10; // the backup learned the old master's interval (v3)
            const cs = s.version === 3 ? learnedCs : sim.node(b).config.advertIntervalCs;
            if (release === 'silent') {
              const mdi = masterDownIntervalMs(s.version, p, cs);
              const last = sim.lastDelivery(victim, b, t0 + maxDelay);
              assert.ok(last !== undefined, `${where}: n${b} never heard n${victim}`);
              assert.equal(first.at, last.at + mdi, `${where}: n${b} took over at ${first.at}, last advert at ${last.at}, MDI ${mdi}`);
              assert.ok(first.at - t0 > mdi - iv(victim) && first.at - t0 <= mdi + maxDelay + 1e-9, `${where}: takeover ${first.at - t0} ms after the failure, MDI ${mdi}`);
              assert.ok(first.at - last.sentAt >= mdi && first.at - last.sentAt <= mdi + maxDelay + 1e-9, `${where}: takeover ${first.at - last.sentAt} ms after the last advert`);
              counters.crashTimings++;
            } else {
              const skew = skewTimeMs(s.version, p, cs);
              assert.equal(first.at, t0 + sim.delay(victim, b) + skew, `${where}: n${b} took over ${first.at - t0} ms after priority 0, skew ${skew}`);
              counters.shutdownTimings++;
            }
          };
        }
        break;
      }
      case 'restart':
        sim.start(rng.pick(down));
        break;
    }

    sim.lossProbability = s.loss;
    sim.runFor(settle);
    check?.();
    sim.lossProbability = 0;
    sim.runFor(settle);
    const quietHalf = sim.now;
    sim.runFor(settle);
    const flaps = sim.recordsSince(quietHalf).filter((r) => r.action.kind === 'transition');
    assert.deepEqual(flaps.map((r) => `n${r.node}@${r.at}`), [], `${where}: transitions in a quiet, settled segment`);
    checkConverged(sim, where);
    counters.epochs++;
  }
  for (const r of sim.records) {
    if (r.action.kind !== 'transition' || r.action.to !== 'Master') continue;
    const reason = r.action.reason;
    // nopreempt: only a preempt node ever takes over by discarding a live master's adverts.
    if (reason.startsWith('preempting')) assert.ok(sim.node(r.node).config.preempt, `${tag}: n${r.node} (nopreempt) ${reason} at ${r.at}`);
    // RFC 5798 §6.4.2: the Master_Down_Timer (>= 3 advert intervals) only expires after that
    // long without an accepted advert; every advert delivered is accepted unless preempting.
    if (lossless && reason === 'master-down timer expired') {
      const heard = sim.deliveries.find((d) => d.to === r.node && d.priority > 0 && d.at > r.at - 3 * iv(d.from) && d.at < r.at);
      assert.equal(heard, undefined, `${tag}: n${r.node} took over at ${r.at} although it heard n${heard?.from} at ${heard?.at}`);
    }
  }
  counters.transitions += sim.records.filter((r) => r.action.kind === 'transition').length;
  counters.lost += sim.lost;
  // Nothing a peer sent was ever dropped by validation: the routers agree on the wire format.
  for (const x of sim.nodes) {
    const drops = x.router === undefined ? {} : Object.entries(x.router.stats.drops).filter(([r, k]) => k > 0 && r !== 'not-running');
    assert.deepEqual(drops, [], `${tag}: n${x.id} dropped peer adverts`);
  }
  return sim;
}

