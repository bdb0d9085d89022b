// A VRRP tracked check (keepalived's vrrp_script): the exec probe under the common scheduler.
// As keepalived does for scripts, the check counts as up until it has failed `fall` times, and
// the first run starts at once (tracks are few; no warmup jitter).
import type { ExecCheck } from '../api/vrrp-instance.ts';
import { Checker } from './checker.ts';
import type { CheckListener } from './checker.ts';
import { execProbe } from './exec.ts';

export type { CheckResult } from './checker.ts';

export class ExecChecker extends Checker {
  constructor(spec: ExecCheck, onResult: CheckListener) {
    super(execProbe({ command: spec.command }), {
      intervalMs: spec.intervalMs,
      timeoutMs: spec.timeoutMs,
      rise: spec.rise,
      fall: spec.fall,
      initiallyUp: true,
      warmupMs: 0,
    }, onResult);
  }
}
