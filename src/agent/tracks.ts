// Runs the tracked checks of the instances this node runs and forwards their up/down changes.
// Checks run on the main thread: a slow check can delay a metrics scrape, never an advert.
// Two kinds: a command run periodically (keepalived's vrrp_script), and the health of a
// VirtualServer of this node (up while it has quorum), fed by the IPVS reconciler.
import type { Track } from '../api/vrrp-instance.ts';
import type { VrrpInstance } from '../api/vrrp-instance.ts';
import { ExecChecker } from '../health/exec-check.ts';
import type { CheckResult } from '../health/exec-check.ts';

interface Running {
  spec: string;
  checker: ExecChecker;
}

export type TrackListener = (instance: string, track: string, result: CheckResult, changed: boolean, up: boolean) => void;

export class TrackRunner {
  private readonly running = new Map<string, Running>();
  /** "instance/track" -> the VirtualServer ("namespace/name") it follows. */
  private readonly following = new Map<string, string>();
  /** Quorum of the VirtualServers as last reported; unknown ones count as up. */
  private readonly quorum = new Map<string, boolean>();
  private readonly listener: TrackListener;

  constructor(listener: TrackListener) {
    this.listener = listener;
  }

  /** Current state of a check; unknown checks are up, as keepalived assumes before a first run. */
  isUp(instance: string, track: string): boolean {
    const key = `${instance}/${track}`;
    const vs = this.following.get(key);
    if (vs !== undefined) return this.quorum.get(vs) ?? true;
    return this.running.get(key)?.checker.up ?? true;
  }

  /** Starts new or changed checks and stops the ones no longer wanted; returns the removed keys. */
  apply(instances: VrrpInstance[]): { instance: string; track: string }[] {
    const wanted = new Map<string, { instance: string; track: Track }>();
    for (const i of instances) for (const t of i.spec.tracks) wanted.set(`${i.name}/${t.name}`, { instance: i.name, track: t });
    const removed: { instance: string; track: string }[] = [];
    for (const key of [...this.running.keys(), ...this.following.keys()]) {
      const w = wanted.get(key);
      const r = this.running.get(key);
      if (w && r && JSON.stringify(w.track.exec) === r.spec) continue;
      if (w?.track.virtualServer && this.following.get(key) === vsKey(w.track.virtualServer)) continue;
      r?.checker.stop();
      this.running.delete(key);
      this.following.delete(key);
      if (!w) {
        const [instance = '', track = ''] = key.split('/');
        removed.push({ instance, track });
      }
    }
    for (const [key, { instance, track }] of wanted) {
      if (this.running.has(key) || this.following.has(key)) continue;
      if (track.virtualServer) {
        this.following.set(key, vsKey(track.virtualServer));
        continue;
      }
      const checker = new ExecChecker(track.exec, (result, changed, up) => this.listener(instance, track.name, result, changed, up));
      this.running.set(key, { spec: JSON.stringify(track.exec), checker });
      checker.start();
    }
    return removed;
  }

  /** The IPVS reconciler's view of a VirtualServer; tracks following it change with it. */
  virtualServerQuorum(owner: string, up: boolean): void {
    const before = this.quorum.get(owner) ?? true;
    this.quorum.set(owner, up);
    if (before === up) return;
    for (const [key, vs] of this.following) {
      if (vs !== owner) continue;
      const [instance = '', track = ''] = key.split('/');
      const detail = up ? `VirtualServer ${owner} has quorum` : `VirtualServer ${owner} lost quorum`;
      this.listener(instance, track, { ok: up, durationMs: 0, detail, timedOut: false }, true, up);
    }
  }

  stop(): void {
    for (const r of this.running.values()) r.checker.stop();
    this.running.clear();
  }
}

function vsKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}
