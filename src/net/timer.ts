import { native, type NativeTimer } from './native.ts';

/**
 * A one-shot timer on a CLOCK_MONOTONIC timerfd: it fires within microseconds of its deadline,
 * where setTimeout lands on libuv's whole-millisecond clock. VRRP takeover time is a timer's
 * lateness, so the VRRP thread schedules with this. Only an armed timer keeps the event loop
 * alive, as with setTimeout.
 */
export class PreciseTimer {
  readonly #timer: NativeTimer;

  constructor(onFire: () => void) {
    this.#timer = new native.Timer(onFire);
  }

  /** (Re)arms to fire once, delayMs (fractions count) from now; a past deadline fires at once. */
  arm(delayMs: number): void {
    this.#timer.arm(delayMs);
  }

  disarm(): void {
    this.#timer.disarm();
  }

  /** Idempotent; no callback runs after it. */
  close(): void {
    this.#timer.close();
  }
}
