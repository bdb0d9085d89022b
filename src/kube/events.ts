// Kubernetes Events (events.k8s.io/v1) about our objects, as `kubectl describe` and
// `kubectl get events` show them. A repeat of the same event (same object, type, reason and
// note) updates the first one's series count instead of creating another, and at most once per
// interval, so a flapping condition cannot flood the API server. Recording never throws and
// never blocks the caller: a lost Event is logged, not fatal.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from './kubeconfig.ts';
import type { Logger } from '../log.ts';
import { hasStatus, kubeRequest } from './client.ts';
import { EVENTS, microTime, resourcePath } from './resources.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  /** reportingController, e.g. kubelived.io/controller. */
  controller: string;
  /** reportingInstance, e.g. the pod or node name. */
  instance: string;
  log: Logger;
  /** Repeats are written at most this often per event (default 10 s). */
  updateIntervalMs?: number;
  now?: () => number;
}

interface Series {
  namespace: string;
  /** The Event's name once created. */
  name: string | undefined;
  regarding: InvolvedObject;
  type: EventType;
  reason: string;
  note: string;
  action: string;
  count: number;
  /** The count the API server has. */
  written: number;
  lastObservedMs: number;
  lastWriteMs: number;
  timer: NodeJS.Timeout | undefined;
  writing: Promise<void> | undefined;
}

/** Events live an hour in the API server by default; forget our series well before that. */
const FORGET_AFTER_MS = 30 * 60_000;
const MAX_NOTE = 1024;

export class EventRecorder {
  private readonly kc: KubeConfig;
  private readonly opts: EventRecorderOptions;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly series = new Map<string, Series>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(kc: KubeConfig, opts: EventRecorderOptions) {
    this.kc = kc;
    this.opts = opts;
    this.intervalMs = opts.updateIntervalMs ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), 60_000).unref();
  }

  /** Records an event about `regarding`; `action` says what we were doing (default: reason). */
  record(regarding: InvolvedObject, type: EventType, reason: string, note: string, action = reason): void {
    try {
      const trimmed = note.length > MAX_NOTE ? `${note.slice(0, MAX_NOTE - 3)}...` : note;
      const key = JSON.stringify([regarding.kind, regarding.namespace ?? '', regarding.name, regarding.uid ?? '', type, reason, trimmed]);
      const now = this.now();
      let s = this.series.get(key);
      if (!s) {
        s = {
          // Events about cluster-scoped objects live in default, as the kubelet's Node events do.
          namespace: regarding.namespace ?? 'default', name: undefined, regarding, type, reason, note: trimmed, action,
          count: 0, written: 0, lastObservedMs: now, lastWriteMs: 0, timer: undefined, writing: undefined,
        };
        this.series.set(key, s);
      }
      s.count++;
      s.lastObservedMs = now;
      this.schedule(s);
    } catch (e) {
      this.opts.log.warn({ err: e, reason }, 'could not record an event');
    }
  }

  /** Writes every pending repeat now (before shutdown, and in tests). */
  async flush(): Promise<void> {
    for (const s of this.series.values()) {
      while (s.timer || s.writing || s.count !== s.written) {
        clearTimeout(s.timer);
        s.timer = undefined;
        await (s.writing ?? this.write(s));
      }
    }
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const s of this.series.values()) clearTimeout(s.timer);
  }

  private schedule(s: Series): void {
    if (s.timer || s.writing) return; // the pending write will carry this repeat
    const wait = s.lastWriteMs === 0 ? 0 : Math.max(0, s.lastWriteMs + this.intervalMs - this.now());
    if (wait === 0) {
      void this.write(s);
      return;
    }
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.write(s);
    }, wait);
    s.timer.unref();
  }

  private write(s: Series): Promise<void> {
    const run = async (): Promise<void> => {
      const count = s.count;
      try {
        if (s.name === undefined) await this.create(s);
        else {
          try {
            await this.patch(s, count);
          } catch (e) {
            if (!hasStatus(e, 404)) throw e;
            await this.create(s); // expired or deleted: start a new one
          }
        }
        s.written = count;
      } catch (e) {
        this.opts.log.warn({ err: e instanceof Error ? e.message : String(e), reason: s.reason, object: s.regarding.name }, 'could not write an event');
        s.written = count; // dropped: do not retry forever
      } finally {
        s.lastWriteMs = this.now();
        s.writing = undefined;
      }
      if (s.count !== s.written) this.schedule(s);
    };
    s.writing = run();
    return s.writing;
  }

  private async create(s: Series): Promise<void> {
    const now = this.now();
    // As the Kubernetes recorders name them: the object's name and a unique suffix (253 at most).
    const name = `${s.regarding.name.slice(0, 230)}.${now.toString(16)}${randomBytes(2).toString('hex')}`;
    await kubeRequest(this.kc, resourcePath(EVENTS, s.namespace), {
      method: 'POST',
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: s.namespace },
        eventTime: microTime(now),
        reportingController: this.opts.controller,
        reportingInstance: this.opts.instance,
        action: s.action,
        reason: s.reason,
        type: s.type,
        note: s.note,
        regarding: s.regarding,
        ...(s.count > 1 ? { series: { count: s.count, lastObservedTime: microTime(s.lastObservedMs) } } : {}),
      },
    });
    s.name = name;
  }

  private async patch(s: Series, count: number): Promise<void> {
    await kubeRequest(this.kc, resourcePath(EVENTS, s.namespace, s.name), {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { series: { count, lastObservedTime: microTime(s.lastObservedMs) } },
    });
  }

  private sweep(): void {
    const cutoff = this.now() - FORGET_AFTER_MS;
    for (const [key, s] of this.series) {
      if (s.lastObservedMs < cutoff && !s.timer && !s.writing) this.series.delete(key);
    }
  }
}
