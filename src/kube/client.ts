// The one way this project talks to the API server: credentials from client-node's KubeConfig,
// requests through client-node's own fetch and TLS dispatcher, plain JSON in and out. The
// generated typed clients are not used: server-side apply, watches and status subresources of
// our CRDs are all plain paths, and one request function keeps errors and timeouts uniform.
import { HttpMethod, IsomorphicFetchHttpLibrary, KubeConfig, RequestContext } from '@kubernetes/client-node';

/** KUBECONFIG when set, otherwise the in-cluster ServiceAccount (client-node's loadFromDefault). */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new Error('no Kubernetes credentials: set KUBECONFIG or run in a pod with a ServiceAccount token');
  }
  return kc;
}

/** An API server answer other than 2xx, with the Status object's reason and message. */
export class KubeApiError extends Error {
  readonly status: number;
  /** metav1.Status reason, e.g. NotFound, Conflict, Forbidden, Expired, Gone. */
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, status: number, reason: string, message: string) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.method = method;
    this.path = path;
  }
}

export function hasStatus(e: unknown, status: number): boolean {
  return e instanceof KubeApiError && e.status === status;
}

/** 401 or 403: the credentials or their RBAC are wrong, which retrying will not fix. */
export function isAuthError(e: unknown): boolean {
  return hasStatus(e, 401) || hasStatus(e, 403);
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Query;
  /** Sent as JSON (which is also valid YAML for apply patches). */
  body?: unknown;
  /** Default application/json. */
  contentType?: string;
  signal?: AbortSignal;
}

/** Requests without their own signal give up after this long (a hung API server must not hang us). */
const REQUEST_TIMEOUT_MS = 30_000;

const http = new IsomorphicFetchHttpLibrary();

async function send(kc: KubeConfig, path: string, opts: RequestOptions): Promise<{ status: number; text: () => Promise<string>; stream: () => ReadableStream<Uint8Array> | null }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const method = opts.method ?? 'GET';
  const ctx = new RequestContext(url.toString(), HttpMethod[method]);
  ctx.setHeaderParam('Accept', 'application/json');
  if (opts.body !== undefined) {
    ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
    ctx.setBody(JSON.stringify(opts.body));
  }
  ctx.setSignal(opts.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS));
  await kc.applySecurityAuthentication(ctx);
  let res;
  try {
    res = await http.send(ctx).toPromise();
  } catch (e) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a TLS error...) is its cause.
    const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
    throw new Error(`${method} ${url.host}${path}: ${e instanceof Error ? e.message : String(e)}${cause}`, { cause: e });
  }
  return { status: res.httpStatusCode, text: () => res.body.text(), stream: () => res.body.stream() };
}

function failure(method: string, path: string, status: number, text: string): KubeApiError {
  let reason = '';
  let message = text.trim().slice(0, 500);
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    reason = s.reason ?? '';
    message = s.message ?? message;
  } catch {
    // not a Status object (a proxy's error page, say): keep the text
  }
  return new KubeApiError(method, path, status, reason || 'Unknown', message);
}

/** One API request; resolves to the parsed JSON body, rejects with KubeApiError on non-2xx. */
export async function kubeRequest<T>(kc: KubeConfig, path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(kc, path, opts);
  const text = await res.text();
  if (res.status < 200 || res.status > 299) throw failure(opts.method ?? 'GET', path, res.status, text);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** A streaming GET (a watch): the open body, or KubeApiError when the server refuses it. */
export async function kubeStream(kc: KubeConfig, path: string, query: Query, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
  const res = await send(kc, path, { query, signal });
  if (res.status !== 200) throw failure('GET', path, res.status, await res.text());
  const body = res.stream();
  if (!body) throw new KubeApiError('GET', path, res.status, 'Unknown', 'the response has no body');
  return body;
}
