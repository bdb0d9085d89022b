// Exponential backoff for retrying API calls: each failure doubles the wait up to a cap, a
// success resets it. A little jitter keeps many clients that lost the API server together from
// coming back in lock step.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Each delay is shortened by up to this fraction, at random. */
  jitter?: number;
  /** Injected for tests; returns [0, 1). */
  random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private nextMs: number;
  /** Failures since the last reset. */
  attempts = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 200;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 0.1;
    this.random = opts.random ?? Math.random;
    if (!(this.initialMs > 0 && this.maxMs >= this.initialMs && this.factor >= 1 && this.jitter >= 0 && this.jitter < 1)) {
      throw new Error(`invalid backoff: initial ${this.initialMs}ms, max ${this.maxMs}ms, factor ${this.factor}, jitter ${this.jitter}`);
    }
    this.nextMs = this.initialMs;
  }

  /** The wait before the next attempt; each call lengthens the one after it. */
  next(): number {
    const base = this.nextMs;
    this.nextMs = Math.min(this.maxMs, this.nextMs * this.factor);
    this.attempts++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  reset(): void {
    this.nextMs = this.initialMs;
    this.attempts = 0;
  }
}
