// Client-side prober: from the lab's client namespace, ping a target (a VIP) every 5 ms and
// capture what comes back with tcpdump, so each reply carries its exact capture time and the
// source MAC of the frame (which node answered). ARP (IPv4) and neighbour advertisements (IPv6)
// about the target are captured too, with the link-layer address they announce.
//
//   const probe = await startProbe(lab, vip4());
//   ... trigger a failover at t = Date.now() ...
//   const r = await probe.stop();
//   r.gapAround(t)                      // the outage: largest reply gap after the trigger
//   r.firstReplyFrom(newMaster.mac, t)  // when the client reached the new master
//
// Times are epoch milliseconds with microsecond resolution (tcpdump -tt: the kernel's capture
// timestamp, CLOCK_REALTIME), comparable with Date.now() taken by the test.
// Cost: ping at 200 packets/s and a tcpdump whose BPF filter passes only echo replies and
// ARP / NA frames; parsing is a few hundred lines a second.
import type { Lab, LabNode, LabProcess } from './lab.ts';
import { canonicalIp, decodeFrame } from './packet.ts';

export interface ProbeReply {
  t: number;
  /** Ethernet source of the echo reply: the node that answered. */
  mac: string;
  src: string;
  seq: number;
}

export interface NeighEvent {
  t: number;
  kind: 'arp-request' | 'arp-reply' | 'na';
  ethSrc: string;
  /** The link-layer address announced for the target (ARP sender hardware address, NA target link-layer option, else the Ethernet source). */
  mac: string;
  /** ARP: spa == tpa (gratuitous); NA: sent to a multicast address (unsolicited). */
  gratuitous: boolean;
  /** NA override flag (undefined for ARP). */
  override?: boolean;
}

export interface Gap {
  /** Last reply before the gap. */
  start: number;
  /** First reply after it, undefined if none came before the probe stopped. */
  end: number | undefined;
  /** end - start (or stoppedAt - start). */
  ms: number;
  /** end - trigger time, for gapAround. */
  fromTrigger?: number;
}

export interface ProbeResult {
  target: string;
  intervalMs: number;
  startedAt: number;
  stoppedAt: number;
  replies: ProbeReply[];
  neighbour: NeighEvent[];
  /** Every gap between consecutive replies longer than minMs (default 50). */
  gaps(minMs?: number): Gap[];
  /**
   * The largest gap between consecutive replies that ends after tMs and starts before
   * tMs + windowMs (default 10 s): the client's outage for a trigger at tMs.
   */
  gapAround(tMs: number, windowMs?: number): Gap | undefined;
  firstReplyFrom(mac: string, afterMs?: number): ProbeReply | undefined;
  lastReplyBefore(tMs: number): ProbeReply | undefined;
  /** MAC of the last reply at or before tMs. */
  macAt(tMs: number): string | undefined;
  /** The first reply and every reply whose MAC differs from the one before. */
  macChanges(): { t: number; mac: string }[];
}

export interface Probe {
  target: string;
  from: LabNode;
  startedAt: number;
  /** Live: grows while the probe runs. */
  replies: ProbeReply[];
  neighbour: NeighEvent[];
  waitForReply(pred: (r: ProbeReply) => boolean, timeoutMs: number): Promise<ProbeReply>;
  /** First reply from mac at or after afterMs (default: now). */
  waitForReplyFrom(mac: string, timeoutMs: number, afterMs?: number): Promise<ProbeReply>;
  snapshot(): ProbeResult;
  stop(): Promise<ProbeResult>;
}

export interface ProbeOptions {
  /** Ping interval (default 5 ms; iputils ping needs root below 2 ms... and we are root). */
  intervalMs?: number;
  /** Where to probe from (default lab.client). */
  from?: LabNode;
}

function result(target: string, intervalMs: number, startedAt: number, stoppedAt: number, replies: ProbeReply[], neighbour: NeighEvent[]): ProbeResult {
  const rs = [...replies].sort((a, b) => a.t - b.t);
  const pairs = (): Gap[] => {
    const out: Gap[] = [];
    for (let i = 0; i + 1 < rs.length; i++) {
      const a = rs[i] as ProbeReply;
      const b = rs[i + 1] as ProbeReply;
      out.push({ start: a.t, end: b.t, ms: b.t - a.t });
    }
    const last = rs[rs.length - 1];
    if (last) out.push({ start: last.t, end: undefined, ms: stoppedAt - last.t });
    return out;
  };
  return {
    target,
    intervalMs,
    startedAt,
    stoppedAt,
    replies: rs,
    neighbour: [...neighbour],
    gaps: (minMs = 50) => pairs().filter((g) => g.ms > minMs),
    gapAround(tMs, windowMs = 10_000) {
      let best: Gap | undefined;
      for (const g of pairs()) {
        if ((g.end ?? Infinity) <= tMs || g.start >= tMs + windowMs) continue;
        if (!best || g.ms > best.ms) best = g;
      }
      return best && { ...best, ...(best.end !== undefined ? { fromTrigger: best.end - tMs } : {}) };
    },
    firstReplyFrom: (mac, afterMs = 0) => rs.find((r) => r.mac === mac && r.t >= afterMs),
    lastReplyBefore: (tMs) => rs.findLast((r) => r.t < tMs),
    macAt: (tMs) => rs.findLast((r) => r.t <= tMs)?.mac,
    macChanges() {
      const out: { t: number; mac: string }[] = [];
      for (const r of rs) if (out[out.length - 1]?.mac !== r.mac) out.push({ t: r.t, mac: r.mac });
      return out;
    },
  };
}

/** Parses `tcpdump -e -n -tt -xx` output into frames with their capture time. */
class HexFrameParser {
  private t = 0;
  private len = 0;
  private hex = '';
  private readonly onFrame: (t: number, frame: Uint8Array) => void;
  constructor(onFrame: (t: number, frame: Uint8Array) => void) {
    this.onFrame = onFrame;
  }
  line(l: string): void {
    const h = /^\s+0x[0-9a-f]+:\s+([0-9a-f ]+)/.exec(l);
    if (h) {
      this.hex += (h[1] as string).replace(/\s+/g, '');
      if (this.len > 0 && this.hex.length >= this.len * 2) this.flush();
      return;
    }
    const m = /^(\d+\.\d+) .*?length (\d+):/.exec(l);
    if (m) {
      this.flush();
      this.t = parseFloat(m[1] as string) * 1000;
      this.len = Number(m[2]);
      this.hex = '';
    }
  }
  flush(): void {
    if (this.hex.length >= 28) this.onFrame(this.t, Buffer.from(this.hex, 'hex'));
    this.hex = '';
    this.len = 0;
  }
}

export async function startProbe(lab: Lab, target: string, opts: ProbeOptions = {}): Promise<Probe> {
  const from = opts.from ?? lab.client;
  const intervalMs = opts.intervalMs ?? 5;
  const tgt = canonicalIp(target);
  const v6 = tgt.includes(':');
  const filter = v6
    ? `(icmp6 and src host ${tgt} and ip6[40] == 129) or (icmp6 and ip6[40] == 136)`
    : `(icmp and src host ${tgt} and icmp[icmptype] == icmp-echoreply) or arp`;
  const replies: ProbeReply[] = [];
  const neighbour: NeighEvent[] = [];
  const waiters = new Set<(r: ProbeReply) => void>();
  const parser = new HexFrameParser((t, frame) => {
    const d = decodeFrame(frame);
    if (d.kind === 'echo-reply' && d.src === tgt) {
      const r: ProbeReply = { t, mac: d.ethSrc, src: d.src, seq: d.seq };
      replies.push(r);
      for (const w of [...waiters]) w(r);
    } else if (d.kind === 'arp' && d.spa === tgt && (d.op === 1 || d.op === 2)) {
      neighbour.push({ t, kind: d.op === 1 ? 'arp-request' : 'arp-reply', ethSrc: d.ethSrc, mac: d.sha, gratuitous: d.spa === d.tpa });
    } else if (d.kind === 'na' && d.target === tgt) {
      neighbour.push({ t, kind: 'na', ethSrc: d.ethSrc, mac: d.tlla ?? d.ethSrc, gratuitous: d.dst.startsWith('ff'), override: d.override });
    }
  });
  const tcpdump: LabProcess = lab.spawn(from.netns, ['tcpdump', '-i', from.ifname, '-Q', 'in', '-e', '-n', '-l', '-tt', '-xx', '--immediate-mode', filter], { maxHistory: 200 });
  tcpdump.onLine((l) => {
    if (l.stream === 'stdout') parser.line(l.line);
  });
  await tcpdump.waitForLine(/listening on/, 5000, 0);
  const startedAt = Date.now();
  const ping = lab.spawn(from.netns, ['ping', '-n', '-q', '-i', String(intervalMs / 1000), tgt], { maxHistory: 200 });
  let stopped: Promise<ProbeResult> | undefined;

  const waitForReply = (pred: (r: ProbeReply) => boolean, timeoutMs: number): Promise<ProbeReply> => {
    const seen = replies.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`probe ${tgt}: no matching reply within ${timeoutMs} ms (${replies.length} replies, last from ${replies[replies.length - 1]?.mac ?? 'nobody'})`));
      }, timeoutMs);
      const w = (r: ProbeReply): void => {
        if (!pred(r)) return;
        clearTimeout(timer);
        waiters.delete(w);
        resolve(r);
      };
      waiters.add(w);
    });
  };

  return {
    target: tgt,
    from,
    startedAt,
    replies,
    neighbour,
    waitForReply,
    waitForReplyFrom(mac, timeoutMs, afterMs) {
      const after = afterMs ?? Date.now();
      return waitForReply((r) => r.mac === mac && r.t >= after, timeoutMs);
    },
    snapshot: () => result(tgt, intervalMs, startedAt, Date.now(), replies, neighbour),
    stop() {
      stopped ??= (async () => {
        const stoppedAt = Date.now();
        await ping.stop(500);
        // Replies in flight when ping stopped are still captured; then stop tcpdump.
        await new Promise((r) => setTimeout(r, 30));
        await tcpdump.stop(1000);
        await tcpdump.closed;
        parser.flush();
        return result(tgt, intervalMs, startedAt, stoppedAt, replies, neighbour);
      })();
      return stopped;
    },
  };
}
