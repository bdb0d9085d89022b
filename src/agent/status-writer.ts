// Writes status to the API server without ever letting it fall behind or pile up: per object
// the latest body wins (a burst of changes is one write), at most one write per object is in
// flight, identical bodies are not written again, and a few writes run at once over all
// objects (VrrpInstance entries before VirtualServer ones: they say who is master). While the
// API server is unreachable the writes wait with exponential backoff and then catch up with
// the latest body of each object; nothing in the data plane waits for them.
import type { Logger } from '../log.ts';
import { Backoff } from '../kube/backoff.ts';
import type { BackoffOptions } from '../kube/backoff.ts';
import { hasStatus, isAuthError } from '../kube/client.ts';

export interface StatusWriterOptions<B> {
  /** One write of one object; rejects on failure (KubeApiError carries the status). */
  write(key: string, body: B): Promise<void>;
  log: Logger;
  /** Writes in flight at once over all objects (default 4). */
  concurrency?: number;
  backoff?: BackoffOptions;
}

interface Slot<B> {
  body: B;
  text: string;
  /** The text the API server has (undefined: nothing written yet). */
  written: string | undefined;
  inFlight: boolean;
  urgent: boolean;
}

export class StatusWriter<B> {
  private readonly opts: StatusWriterOptions<B>;
  private readonly concurrency: number;
  private readonly backoff: Backoff;
  private readonly slots = new Map<string, Slot<B>>();
  /** Keys waiting for a write, urgent ones first; insertion order is the write order. */
  private readonly urgent = new Set<string>();
  private readonly normal = new Set<string>();
  private inFlight = 0;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;
  private idle: (() => void)[] = [];
  private stopped = false;

  constructor(opts: StatusWriterOptions<B>) {
    this.opts = opts;
    this.concurrency = opts.concurrency ?? 4;
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 500, maxMs: 10_000 });
  }

  /** The body `key` should have; written unless the API server already has exactly it. */
  set(key: string, body: B, urgent = false): void {
    const text = JSON.stringify(body);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { body, text, written: undefined, inFlight: false, urgent };
      this.slots.set(key, slot);
    } else {
      slot.body = body;
      slot.text = text;
      slot.urgent = urgent;
    }
    this.urgent.delete(key);
    this.normal.delete(key);
    if (slot.written !== text) this.queue(key, slot);
    this.pump();
  }

  /** Writes still pending (queued or in flight). */
  get pending(): number {
    return this.urgent.size + this.normal.size + this.inFlight;
  }

  /** Resolves true when everything is written, false at the deadline. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Retries now instead of at the end of the backoff (e.g. the API server answered again). */
  retryNow(): void {
    if (this.pausedUntil === 0) return;
    this.pausedUntil = 0;
    clearTimeout(this.timer);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private pump(): void {
    if (this.stopped || Date.now() < this.pausedUntil) return;
    while (this.inFlight < this.concurrency) {
      const key = first(this.urgent) ?? first(this.normal);
      if (key === undefined) break;
      this.urgent.delete(key);
      this.normal.delete(key);
      const slot = this.slots.get(key);
      if (!slot || slot.inFlight) continue; // requeued when that write ends
      void this.write(key, slot);
    }
    if (this.pending === 0) for (const done of this.idle.splice(0)) done();
  }

  private async write(key: string, slot: Slot<B>): Promise<void> {
    slot.inFlight = true;
    this.inFlight++;
    const text = slot.text;
    try {
      await this.opts.write(key, slot.body);
      slot.written = text;
      this.backoff.reset();
      if (this.failing) this.opts.log.info({ pending: this.pending }, 'status writes succeed again; catching up');
      this.failing = false;
    } catch (e) {
      if (hasStatus(e, 404)) {
        // The object is gone: nothing to report on.
        this.slots.delete(key);
      } else if (hasStatus(e, 422) || hasStatus(e, 400)) {
        // The API server refuses this body; the same body would fail again.
        this.opts.log.error({ err: message(e), object: key }, `status of ${key} rejected by the API server`);
        slot.written = text;
      } else {
        this.pause(e, key);
      }
    } finally {
      slot.inFlight = false;
      this.inFlight--;
    }
    if (this.slots.get(key) === slot && slot.written !== slot.text) this.queue(key, slot);
    this.pump();
  }

  private queue(key: string, slot: Slot<B>): void {
    (slot.urgent ? this.urgent : this.normal).add(key);
  }

  private pause(e: unknown, key: string): void {
    const delay = this.backoff.next();
    this.pausedUntil = Date.now() + delay;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pausedUntil = 0;
      this.pump();
    }, delay);
    const fields = { err: message(e), object: key, retryMs: delay };
    // RBAC that forbids writing status is a deployment error: loud every time, not once.
    if (isAuthError(e)) this.opts.log.error(fields, `not allowed to write the status of ${key}: check the ServiceAccount's RBAC (patch on the status subresource)`);
    else if (!this.failing) this.opts.log.warn(fields, 'status write failed; retrying with backoff (the data plane is not affected)');
    this.failing = true;
  }
}

function first(s: Set<string>): string | undefined {
  for (const k of s) return k;
  return undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
