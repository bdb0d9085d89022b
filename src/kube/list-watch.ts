// The API server side of an informer: paginated lists and streaming watches of one collection
// path. Everything here fails by throwing (KubeApiError carries the status: 410 means the
// resourceVersion is too old and the informer must list again); retrying is the informer's job.
import type { KubeConfig } from './kubeconfig.ts';
import { KubeApiError, kubeRequest, kubeStream } from './client.ts';
import type { Query } from './client.ts';
import type { KubeObject } from './resources.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchCallbacks<T> {
  /** The server accepted the watch (the API server is reachable and we may read). */
  opened(): void;
  event(type: WatchEventType, object: T): void;
}

/** What an informer needs from the API server; a test may hand it another implementation. */
export interface ListWatchSource<T extends KubeObject> {
  /** Every object of the collection (all pages), and the resourceVersion to watch from. */
  list(signal: AbortSignal): Promise<{ items: T[]; resourceVersion: string }>;
  /** Resolves when the server ends the watch normally; rejects on any failure. */
  watch(resourceVersion: string, callbacks: WatchCallbacks<T>, signal: AbortSignal): Promise<void>;
}

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

const PAGE_SIZE = 500;
/** The server ends each watch after a random 1-2 minutes (it sends a bookmark first). */
const WATCH_MIN_S = 60;
/** No byte for this long beyond the server's own timeout: the connection is dead. */
const INACTIVITY_SLACK_MS = 30_000;

interface ListBody<T> {
  kind?: string;
  apiVersion?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

/** Lists and watches `path` (a collection, e.g. /api/v1/nodes) on the API server of `kc`. */
export function apiListWatch<T extends KubeObject>(kc: KubeConfig, path: string, selectors: Selectors = {}): ListWatchSource<T> {
  const base: Query = { labelSelector: selectors.labelSelector, fieldSelector: selectors.fieldSelector };
  return {
    async list(signal) {
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const page = await kubeRequest<ListBody<T>>(kc, path, { query: { ...base, limit: PAGE_SIZE, continue: cont }, signal });
        // Items of core lists carry no kind; fill it in so every cached object says what it is.
        const kind = page.kind?.replace(/List$/, '');
        for (const item of page.items ?? []) items.push(slimmed({ apiVersion: page.apiVersion, kind, ...item }));
        cont = page.metadata?.continue || undefined;
        resourceVersion = page.metadata?.resourceVersion ?? '';
      } while (cont);
      return { items, resourceVersion };
    },

    async watch(resourceVersion, callbacks, signal) {
      const timeoutSeconds = WATCH_MIN_S + Math.floor(Math.random() * WATCH_MIN_S);
      signal.throwIfAborted();
      const local = new AbortController();
      const stopLocal = (): void => local.abort(signal.reason);
      signal.addEventListener('abort', stopLocal, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const touch = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => local.abort(new Error(`watch ${path}: no data for ${timeoutSeconds}s + ${INACTIVITY_SLACK_MS / 1000}s`)), timeoutSeconds * 1000 + INACTIVITY_SLACK_MS);
      };
      try {
        touch();
        const body = await kubeStream(kc, path, {
          ...base, watch: true, resourceVersion, allowWatchBookmarks: true, timeoutSeconds,
        }, local.signal);
        callbacks.opened();
        let pending = '';
        const decoder = new TextDecoder();
        for await (const chunk of body) {
          touch();
          pending += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line !== '') dispatch(path, line, callbacks);
          }
        }
        if (local.signal.aborted) throw local.signal.reason;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', stopLocal);
        local.abort();
      }
    },
  };
}

/** The annotation client-side `kubectl apply` keeps: the whole applied object again, as JSON. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Nothing here reads managedFields or kubectl's last-applied copy, and they are often the largest
 * part of a cached object (a VirtualServer's status has an entry and a field manager per node):
 * client-go's informers drop managedFields with a transform for the same reason.
 */
function slimmed<T>(obj: T): T {
  const metadata = (obj as KubeObject | undefined)?.metadata;
  if (!metadata) return obj;
  delete metadata.managedFields;
  if (metadata.annotations) delete metadata.annotations[LAST_APPLIED];
  return obj;
}

function dispatch<T>(path: string, line: string, callbacks: WatchCallbacks<T>): void {
  const ev = JSON.parse(line) as { type?: string; object?: unknown };
  if (ev.type === 'ERROR') {
    // A metav1.Status: 410 Gone/Expired when our resourceVersion fell out of the server's window.
    const s = (ev.object ?? {}) as { code?: number; reason?: string; message?: string };
    throw new KubeApiError('WATCH', path, s.code ?? 500, s.reason ?? 'Unknown', s.message ?? 'watch error');
  }
  if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED' || ev.type === 'BOOKMARK') {
    callbacks.event(ev.type, slimmed(ev.object as T));
  }
}
