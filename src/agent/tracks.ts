// Runs the tracked checks of the instances this node runs and forwards their up/down changes.
// Checks run on the main thread: a slow check can delay a metrics scrape, never an advert.
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
  private readonly listener: TrackListener;

  constructor(listener: TrackListener) {
    this.listener = listener;
  }

  /** Current state of a check; unknown checks are up, as keepalived assumes before a first run. */
  isUp(instance: string, track: string): boolean {
    return this.running.get(`${instance}/${track}`)?.checker.up ?? true;
  }

  /** Starts new or changed checks and stops the ones no longer wanted; returns the removed keys. */
  apply(instances: VrrpInstance[]): { instance: string; track: string }[] {
    const wanted = new Map<string, { instance: string; track: Track }>();
    for (const i of instances) for (const t of i.spec.tracks) wanted.set(`${i.name}/${t.name}`, { instance: i.name, track: t });
    const removed: { instance: string; track: string }[] = [];
    for (const [key, r] of this.running) {
      const w = wanted.get(key);
      if (w && JSON.stringify(w.track.exec) === r.spec) continue;
      r.checker.stop();
      this.running.delete(key);
      if (!w) {
        const [instance = '', track = ''] = key.split('/');
        removed.push({ instance, track });
      }
    }
    for (const [key, { instance, track }] of wanted) {
      if (this.running.has(key)) continue;
      const checker = new ExecChecker(track.exec, (result, changed, up) => this.listener(instance, track.name, result, changed, up));
      this.running.set(key, { spec: JSON.stringify(track.exec), checker });
      checker.start();
    }
    return removed;
  }

  stop(): void {
    for (const r of this.running.values()) r.checker.stop();
    this.running.clear();
  }
}
