// The one way this project talks to the API server: credentials from kubeconfig.ts, requests
// through node:http(s) on keep-alive connections, plain JSON in and out. No generated typed
// client: server-side apply, watches and status subresources of our CRDs are all plain paths,
// and one request function keeps errors and timeouts uniform.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from './kubeconfig.ts';

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

function send(kc: KubeConfig, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
  const url = new URL(kc.server + path);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const method = opts.method ?? 'GET';
  const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
  const authorization = kc.authorization();
  if (authorization !== undefined) headers.Authorization = authorization;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
  const request = url.protocol === 'http:' ? http.request : https.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: kc.agent, signal: opts.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) }, resolve);
    req.on('error', (e) => {
      // An abort says only "The operation was aborted"; why (a timeout, a stop) is its cause.
      const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
      reject(new Error(`${method} ${url.host}${path}: ${e.message}${cause}`, { cause: e }));
    });
    req.end(body);
  });
}

async function readText(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
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
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) throw failure(opts.method ?? 'GET', path, status, text);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** A streaming GET (a watch): the open body, or KubeApiError when the server refuses it. */
export async function kubeStream(kc: KubeConfig, path: string, query: Query, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
  const res = await send(kc, path, { query, signal });
  if (res.statusCode !== 200) throw failure('GET', path, res.statusCode ?? 0, await readText(res));
  return res;
}
