import { constants } from 'node:os';
import { native, type NativeSignalWatch } from './native.ts';

/**
 * Watches a signal on the calling thread's own event loop, which Node's process.on() offers
 * only on the main thread. The main thread still receives the signal too. Does not keep the
 * event loop alive.
 */
export class SignalWatch {
  readonly #watch: NativeSignalWatch;

  constructor(signal: NodeJS.Signals, onSignal: () => void) {
    this.#watch = new native.SignalWatch(constants.signals[signal], onSignal);
  }

  /** Idempotent; no callback runs after it. */
  close(): void {
    this.#watch.close();
  }
}
