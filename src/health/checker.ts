// The one scheduler behind every check (TCP, HTTP(S), UDP, DNS, exec): a probe runs
// periodically, each run bounded by a timeout, at most one run in flight, results folded into
// rise/fall hysteresis. Probes only talk to the target; timing, timeouts and state live here.
//
// Timing, following keepalived's checker loop:
// - The next run starts `intervalMs` after the previous one ended (keepalived's delay_loop), so
//   a slow target stretches the period instead of stacking runs.
// - While a transition is in progress (the last result disagrees with the current state), the
//   next run comes after `retryIntervalMs` instead (keepalived's delay_before_retry), so a long
//   interval need not mean a slow reaction. It defaults to `intervalMs`.
// - The first run waits a random delay in [0, warmupMs) (keepalived's warmup, whose default is
//   also delay_loop), so a thousand checks started together spread over one interval instead
//   of hitting their targets in the same millisecond.
// - Initial state: up, as keepalived starts real servers unless `alpha` is set; pass
//   `initiallyUp: false` for alpha behaviour (down until `rise` successes).
//
// Timeout: at `timeoutMs` the run's AbortSignal fires and the run is reported as a failure at
// once ("timed out after 1000ms waiting for response headers"). The probe must then release
// its socket or process promptly; the next run never starts while the previous probe has not
// settled (a probe ignoring its signal is reported as a failure on each tick until it does).
import { Hysteresis } from './hysteresis.ts';
import { errorDetail } from './detail.ts';

export interface ProbeContext {
  /** Fires at the run's timeout and on stop(); the probe must then settle and free what it holds. */
  readonly signal: AbortSignal;
  /** Names what the probe is waiting for ("connecting to 10.0.0.1:80"); a timeout's detail ends with it. */
  readonly stage: (what: string) => void;
}

export interface ProbeOutcome {
  ok: boolean;
  /** Human-readable: "HTTP 503, want 200-299", "connect ECONNREFUSED 127.0.0.1:8080". */
  detail: string;
}

/** One attempt against the target. Rejections count as failures with the error's message. */
export type Probe = (ctx: ProbeContext) => Promise<ProbeOutcome>;

export interface CheckResult {
  ok: boolean;
  /** Wall time of the run on a monotonic clock (up to the timeout for a timed-out run). */
  durationMs: number;
  detail: string;
  /** The run hit its timeout (then ok is false). */
  timedOut: boolean;
}

/** Called after every run: its result, whether the up/down state changed, the state after it. */
export type CheckListener = (result: CheckResult, changed: boolean, up: boolean) => void;

export interface CheckTiming {
  /** From the end of one run to the start of the next. */
  intervalMs: number;
  /** Bound on one run. */
  timeoutMs: number;
  /** Consecutive successes before a down check counts as up. */
  rise: number;
  /** Consecutive failures before an up check counts as down. */
  fall: number;
  /** Default true (keepalived without `alpha`). */
  initiallyUp?: boolean;
  /** Upper bound of the random delay before the first run; default intervalMs, 0 runs at once. */
  warmupMs?: number;
  /** Period while a transition is in progress; default intervalMs. */
  retryIntervalMs?: number;
  /** Source of the warmup jitter, in [0, 1); Math.random by default. */
  random?: () => number;
}

export interface CheckStats {
  runs: number;
  failures: number;
  timeouts: number;
  /** Up/down changes since start. */
  transitions: number;
  inFlight: boolean;
  last: CheckResult | undefined;
}

function checkTiming(t: CheckTiming): void {
  const positive = (name: string, v: number | undefined, allowZero = false): void => {
    if (v === undefined) return;
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) throw new RangeError(`${name} must be a positive number of milliseconds, got ${v}`);
  };
  positive('intervalMs', t.intervalMs);
  positive('timeoutMs', t.timeoutMs);
  positive('retryIntervalMs', t.retryIntervalMs);
  positive('warmupMs', t.warmupMs, true);
  for (const [name, v] of [['rise', t.rise], ['fall', t.fall]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
  }
}

export class Checker {
  private readonly probe: Probe;
  private readonly timing: CheckTiming;
  private readonly listener: CheckListener;
  private readonly state: Hysteresis;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  /** Set from a run's start until its probe settles (which may be after its timeout). */
  private inFlightSince: number | undefined;
  private abort: AbortController | undefined;
  private readonly counters = { runs: 0, failures: 0, timeouts: 0, transitions: 0 };
  private last: CheckResult | undefined;

  constructor(probe: Probe, timing: CheckTiming, listener: CheckListener) {
    checkTiming(timing);
    this.probe = probe;
    this.timing = timing;
    this.listener = listener;
    this.state = new Hysteresis(timing.rise, timing.fall, timing.initiallyUp ?? true);
  }

  get up(): boolean {
    return this.state.up;
  }

  get stats(): CheckStats {
    return { ...this.counters, inFlight: this.inFlightSince !== undefined, last: this.last };
  }

  /** Schedules the first run after the warmup jitter. Calling it again does nothing. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const warmup = this.timing.warmupMs ?? this.timing.intervalMs;
    this.schedule(Math.floor((this.timing.random ?? Math.random)() * warmup));
  }

  /** No further runs or results; the run in flight, if any, is aborted. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort(new Error('check stopped'));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.run(), delayMs);
  }

  private run(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.inFlightSince !== undefined) {
      // The previous probe outlived its timeout and its abort: never start a second one.
      const ms = Math.round(performance.now() - this.inFlightSince);
      this.finish({ ok: false, durationMs: 0, detail: `previous run still in flight after ${ms}ms, not started`, timedOut: true });
      return;
    }
    const started = performance.now();
    const controller = new AbortController();
    this.abort = controller;
    this.inFlightSince = started;
    let stage = '';
    let settled = false;
    const settle = (ok: boolean, detail: string, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (this.abort === controller) this.abort = undefined;
      this.finish({ ok, durationMs: performance.now() - started, detail, timedOut });
    };
    const deadline = setTimeout(() => {
      settle(false, `timed out after ${this.timing.timeoutMs}ms${stage ? ` ${stage}` : ''}`, true);
      controller.abort(new Error('check timed out'));
    }, this.timing.timeoutMs);
    let outcome: Promise<ProbeOutcome>;
    try {
      outcome = this.probe({ signal: controller.signal, stage: (what) => { stage = what; } });
    } catch (e) {
      outcome = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    void outcome
      .then((o) => settle(o.ok, o.detail, false), (e: unknown) => settle(false, errorDetail(e), false))
      .finally(() => {
        if (this.inFlightSince === started) this.inFlightSince = undefined;
      });
  }

  private finish(result: CheckResult): void {
    if (this.stopped) return;
    const changed = this.state.record(result.ok);
    this.counters.runs++;
    if (!result.ok) this.counters.failures++;
    if (result.timedOut) this.counters.timeouts++;
    if (changed) this.counters.transitions++;
    this.last = result;
    const retrying = result.ok !== this.state.up;
    this.schedule(retrying ? (this.timing.retryIntervalMs ?? this.timing.intervalMs) : this.timing.intervalMs);
    this.listener(result, changed, this.state.up);
  }
}
