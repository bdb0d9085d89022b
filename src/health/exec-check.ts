// Runs a command periodically (keepalived's vrrp_script / MISC_CHECK): exit 0 is a success,
// anything else, a signal or a timeout is a failure. One run in flight at a time, so a hanging
// command cannot pile up processes; a run that outlives its timeout is killed with its group.
import { spawn } from 'node:child_process';
import type { ExecCheck } from '../api/vrrp-instance.ts';
import { Hysteresis } from './hysteresis.ts';

export interface CheckResult {
  ok: boolean;
  durationMs: number;
  detail: string;
}

export class ExecChecker {
  private readonly spec: ExecCheck;
  private readonly state: Hysteresis;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly onResult: (r: CheckResult, changed: boolean, up: boolean) => void;

  constructor(spec: ExecCheck, onResult: (r: CheckResult, changed: boolean, up: boolean) => void) {
    this.spec = spec;
    // keepalived treats a script as good until it has failed `fall` times.
    this.state = new Hysteresis(spec.rise, spec.fall, true);
    this.onResult = onResult;
  }

  get up(): boolean {
    return this.state.up;
  }

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().then((r) => {
        if (this.stopped) return;
        const changed = this.state.record(r.ok);
        this.onResult(r, changed, this.state.up);
        this.schedule(this.spec.intervalMs);
      });
    }, delayMs);
  }

  private runOnce(): Promise<CheckResult> {
    const started = performance.now();
    const [cmd, ...args] = this.spec.command;
    return new Promise((resolve) => {
      const done = (ok: boolean, detail: string): void => {
        clearTimeout(killer);
        resolve({ ok, durationMs: performance.now() - started, detail });
      };
      const child = spawn(cmd ?? '', args, { stdio: 'ignore', detached: true });
      const killer = setTimeout(() => {
        // detached gives the command its own process group: kill helpers it started too.
        if (child.pid !== undefined) {
          try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
        }
      }, this.spec.timeoutMs);
      child.once('error', (e) => done(false, `cannot run ${cmd}: ${e.message}`));
      child.once('exit', (code, signal) => {
        if (code === 0) done(true, 'exit 0');
        else if (signal) done(false, performance.now() - started >= this.spec.timeoutMs ? `timed out after ${this.spec.timeoutMs}ms` : `killed by ${signal}`);
        else done(false, `exit ${code}`);
      });
    });
  }
}
