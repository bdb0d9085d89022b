// An informer: a local cache of one collection kept current by list + watch, with handlers for
// adds, updates and deletes. Unlike client-node's informer it never gives up: any failure
// (watch error, API server restart, network loss) is retried with exponential backoff, a 410
// (resourceVersion too old) re-lists at once, and the cache keeps its last contents meanwhile.
// Consumers therefore never see an empty list because of an outage (fail-static); a re-list
// reports only the differences, as deletes, adds and updates.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from '../log.ts';
import { Backoff } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { hasStatus, isAuthError } from './client.ts';
import { apiListWatch } from './list-watch.ts';
import type { ListWatchSource, Selectors, WatchEventType } from './list-watch.ts';
import { objectKey } from './resources.ts';
import type { KubeObject } from './resources.ts';

/** A watch open this long (or delivering events) counts as a success for the backoff. */
const HEALTHY_WATCH_MS = 5000;

/**
 * How long the API server must keep refusing (401/403) before that is a deployment error
 * rather than a moment: a restarting API server refuses everyone until its RBAC caches load.
 */
export const DENIED_GRACE_MS = 10_000;

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions<T = KubeObject> {
  /** Names the informer in logs and errors, e.g. "vrrpinstances". */
  name: string;
  log: Logger;
  backoff?: BackoffOptions;
  /** Called with every failure (also logged); e.g. to count them in a metric. */
  onError?: (e: unknown) => void;
  /** What of each object to keep (it may change the object in place): a cache holds only what its reader uses. */
  transform?: (obj: T) => T;
}

export class Informer<T extends KubeObject> {
  readonly name: string;
  /** Resolves after the first successful list (never rejects; see lastError while waiting). */
  readonly synced: Promise<void>;
  /** The last failure, until the next successful list or watch. */
  lastError: unknown;
  /** When the API server began refusing (401/403) with no other outcome since. */
  private deniedSince: number | undefined;
  private readonly source: ListWatchSource<T>;
  private readonly log: Logger;
  private readonly backoff: Backoff;
  private readonly onError: ((e: unknown) => void) | undefined;
  private readonly transform: (obj: T) => T;
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private hasSynced = false;
  private markSynced!: () => void;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;

  constructor(source: ListWatchSource<T>, opts: InformerOptions<T>) {
    this.source = source;
    this.name = opts.name;
    this.log = opts.log.child({ informer: opts.name });
    this.backoff = new Backoff(opts.backoff);
    this.onError = opts.onError;
    this.transform = opts.transform ?? ((obj) => obj);
    this.synced = new Promise((resolve) => { this.markSynced = resolve; });
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  /** Refused (401/403) for DENIED_GRACE_MS and more: missing RBAC, which retrying will not fix. */
  get isDenied(): boolean {
    return this.deniedSince !== undefined && Date.now() - this.deniedSince >= DENIED_GRACE_MS;
  }

  /** Handlers run synchronously as the cache changes; one that throws is logged and skipped. */
  on(handlers: InformerHandlers<T>): void {
    this.handlers.push(handlers);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(objectKey(namespace, name));
  }

  start(): void {
    if (this.running) return;
    this.abort = new AbortController();
    this.running = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error(`informer ${this.name} stopped`));
    await this.running;
    this.running = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let openedAt: number | undefined;
      let events = 0;
      try {
        if (this.resourceVersion === '') await this.relist(signal);
        if (signal.aborted) break;
        await this.source.watch(this.resourceVersion, {
          opened: () => {
            openedAt = Date.now();
            this.recovered();
          },
          event: (type, obj) => {
            events++;
            this.onEvent(type, obj);
          },
        }, signal);
        // A server that ends every watch at once must not make us spin.
        if (events === 0 && Date.now() - (openedAt ?? 0) < HEALTHY_WATCH_MS) {
          throw new Error(`watch ${this.name} ended at once without events`);
        }
        this.backoff.reset();
      } catch (e) {
        if (signal.aborted) break;
        // Too old to resume from: list again at once (a list itself never needs a version).
        if (hasStatus(e, 410) && this.resourceVersion !== '') {
          this.log.info('resourceVersion expired; listing again');
          this.resourceVersion = '';
          continue;
        }
        // A watch that worked for a while was a success: the next outage starts short again.
        if (events > 0 || (openedAt !== undefined && Date.now() - openedAt >= HEALTHY_WATCH_MS)) this.backoff.reset();
        const delay = this.backoff.next();
        this.fail(e, delay);
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          break; // stopped while waiting
        }
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.source.list(signal);
    const fresh = new Map<string, T>();
    for (const obj of items) fresh.set(keyOf(obj), obj);
    for (const [key, old] of this.cache) {
      if (!fresh.has(key)) {
        this.cache.delete(key);
        this.emit('delete', old);
      }
    }
    for (const obj of fresh.values()) this.upsert(obj);
    this.resourceVersion = resourceVersion;
    this.backoff.reset();
    this.recovered();
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.log.debug({ objects: this.cache.size }, 'synced');
      this.markSynced();
    }
  }

  private onEvent(type: WatchEventType, obj: T): void {
    const rv = obj.metadata?.resourceVersion;
    if (type === 'ADDED' || type === 'MODIFIED') this.upsert(obj);
    else if (type === 'DELETED') {
      const key = keyOf(obj);
      if (this.cache.delete(key)) this.emit('delete', obj);
    }
    if (rv) this.resourceVersion = rv;
  }

  private upsert(obj: T): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    obj = this.transform(obj);
    this.cache.set(key, obj);
    if (old) this.emit('update', obj, old);
    else this.emit('add', obj);
  }

  private emit(what: 'add' | 'update' | 'delete', obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        if (what === 'add') h.add?.(obj);
        else if (what === 'update') h.update?.(obj, old as T);
        else h.delete?.(obj);
      } catch (e) {
        this.log.error({ err: e, object: keyOf(obj) }, `informer ${what} handler failed`);
      }
    }
  }

  private recovered(): void {
    this.deniedSince = undefined;
    if (this.lastError === undefined) return;
    this.lastError = undefined;
    this.log.info({ cached: this.cache.size }, `list/watch ${this.name} works again`);
  }

  private fail(e: unknown, retryMs: number): void {
    const text = e instanceof Error ? e.message : String(e);
    const repeat = this.lastError !== undefined && errorText(this.lastError) === text;
    this.lastError = e;
    this.deniedSince = isAuthError(e) ? this.deniedSince ?? Date.now() : undefined;
    const fields = { err: text, retryMs, attempt: this.backoff.attempts, cached: this.cache.size };
    // Missing RBAC is a deployment error that retrying will not fix: say so loudly.
    if (isAuthError(e)) this.log.error(fields, `not allowed to list/watch ${this.name}: check the ServiceAccount's RBAC`);
    else if (hasStatus(e, 404) && !repeat) this.log.error(fields, `the API server does not serve ${this.name}: is its CRD installed? (retrying)`);
    // The same failure again (an API server that stays away) is logged once, then quietly retried.
    else if (repeat) this.log.debug(fields, `list/watch ${this.name} still failing; retrying`);
    else this.log.warn(fields, `list/watch ${this.name} failed; retrying (keeping the cached objects)`);
    try {
      this.onError?.(e);
    } catch (err) {
      this.log.error({ err }, 'informer error callback failed');
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function keyOf(obj: KubeObject): string {
  return objectKey(obj.metadata.namespace, obj.metadata.name);
}

/** An informer over an API collection path, e.g. '/api/v1/nodes'; call start() to run it. */
export function makeInformer<T extends KubeObject>(
  kc: KubeConfig, path: string, opts: InformerOptions<T> & Selectors,
): Informer<T> {
  return new Informer<T>(apiListWatch<T>(kc, path, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector }), opts);
}
