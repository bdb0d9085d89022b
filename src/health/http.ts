// HTTP and HTTPS GET probe (keepalived's HTTP_GET and SSL_GET): one request on a fresh
// connection ("Connection: close", no agent pooling); the status must be in the expected set
// (default 200-299, keepalived's default) and, when a digest is configured, the SHA-256 of the
// body must match (keepalived uses MD5 from genhash; `sha256sum` of the page gives ours).
// The body is read only when a digest is configured, and never past maxBodyBytes. Redirects
// are not followed. HTTPS verifies the certificate unless insecureSkipVerify (keepalived does
// not verify at all; secure by default here, with `ca` for private authorities).
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { createHash } from 'node:crypto';
import type { Probe, ProbeOutcome } from './checker.ts';
import { errorDetail, formatAddress } from './detail.ts';

export interface StatusRange {
  from: number;
  to: number;
}

/** "200-299 404", ["200-299", 404], [200, 204], [{ from: 200, to: 299 }]. */
export type StatusSpec = string | readonly (number | string | StatusRange)[];

export const DEFAULT_STATUS: readonly StatusRange[] = [{ from: 200, to: 299 }];
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

export interface HttpTlsOptions {
  /** Server name sent in the TLS handshake and checked against the certificate. Default: the
   * virtual host when it is a name, else none (then the certificate must name the address). */
  sni?: string;
  /** Accept any certificate (self-signed, expired, other name). */
  insecureSkipVerify?: boolean;
  /** PEM certificates of the authorities to trust instead of the system's. */
  ca?: string | readonly string[];
}

export interface HttpProbeOptions {
  host: string;
  port: number;
  /** HTTPS instead of HTTP. */
  https?: boolean;
  /** Request target; default "/". */
  path?: string;
  /** Default 200-299. */
  expectedStatus?: StatusSpec;
  /** Hex SHA-256 of the expected body. */
  bodyDigest?: string;
  /** Host header (keepalived's virtualhost); default the address and port. */
  virtualHost?: string;
  tls?: HttpTlsOptions;
  /** Bound on the body read for the digest; default 1 MiB. */
  maxBodyBytes?: number;
  /** Source address to connect from. */
  bindAddress?: string;
}

/** Parses a status spec; throws RangeError naming the bad part. */
export function parseStatusRanges(spec: StatusSpec): StatusRange[] {
  const parts = typeof spec === 'string' ? spec.split(/[\s,]+/).filter((p) => p !== '') : spec;
  const out: StatusRange[] = [];
  for (const part of parts) {
    if (typeof part === 'object') {
      if (!Number.isInteger(part.from) || !Number.isInteger(part.to) || part.from < 100 || part.to > 599 || part.from > part.to) {
        throw new RangeError(`bad HTTP status range ${part.from}-${part.to}: want 100-599, from <= to`);
      }
      out.push({ from: part.from, to: part.to });
      continue;
    }
    const m = typeof part === 'number' ? [String(part), String(part), undefined] : /^(\d{3})(?:-(\d{3}))?$/.exec(part.trim());
    const from = Number(m?.[1]);
    const to = m?.[2] === undefined ? from : Number(m[2]);
    if (!m || !Number.isInteger(from) || from < 100 || to > 599 || from > to) {
      throw new RangeError(`bad HTTP status or range ${JSON.stringify(part)}: want 100-599 or FROM-TO`);
    }
    out.push({ from, to });
  }
  if (out.length === 0) throw new RangeError('no HTTP status given');
  return out;
}

export function formatStatusRanges(ranges: readonly StatusRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(' ');
}

function hostOf(authority: string): string {
  if (authority.startsWith('[')) return authority.slice(1, authority.indexOf(']'));
  const colon = authority.lastIndexOf(':');
  return colon > 0 && authority.indexOf(':') === colon ? authority.slice(0, colon) : authority;
}

export function httpProbe(options: HttpProbeOptions): Probe {
  const secure = options.https ?? false;
  const path = options.path ?? '/';
  if (!path.startsWith('/')) throw new RangeError(`HTTP path must start with "/", got ${JSON.stringify(path)}`);
  const want = options.expectedStatus === undefined ? DEFAULT_STATUS : parseStatusRanges(options.expectedStatus);
  const wantText = formatStatusRanges(want);
  const digest = options.bodyDigest?.toLowerCase();
  if (digest !== undefined && !/^[0-9a-f]{64}$/.test(digest)) throw new RangeError('bodyDigest must be 64 hex digits (SHA-256)');
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const target = formatAddress(options.host, options.port);
  const defaultPort = secure ? 443 : 80;
  const hostHeader = options.virtualHost ?? (options.port === defaultPort ? hostOf(target) : target);
  const virtualName = options.virtualHost === undefined ? undefined : hostOf(options.virtualHost);
  const sni = options.tls?.sni ?? (virtualName !== undefined && isIP(virtualName) === 0 ? virtualName : undefined);
  const ca = options.tls?.ca;
  const requestOptions: RequestOptions & Record<string, unknown> = {
    host: options.host,
    port: options.port,
    path,
    method: 'GET',
    agent: false,
    headers: { Host: hostHeader, 'User-Agent': 'kubelived-health-check', Accept: '*/*', Connection: 'close' },
    ...(options.bindAddress !== undefined ? { localAddress: options.bindAddress } : {}),
    ...(secure ? {
      rejectUnauthorized: !(options.tls?.insecureSkipVerify ?? false),
      ...(sni !== undefined ? { servername: sni } : {}),
      ...(ca !== undefined ? { ca: typeof ca === 'string' ? [ca] : [...ca] } : {}),
    } : {}),
  };
  const send = secure ? httpsRequest : httpRequest;

  return ({ signal, stage }) => new Promise<ProbeOutcome>((resolve) => {
    let handshaking = false;
    let finished = false;
    stage(`connecting to ${target}`);
    const req = send(requestOptions);
    let res: IncomingMessage | undefined;
    const done = (o: ProbeOutcome): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      res?.destroy();
      req.destroy();
      resolve(o);
    };
    const onAbort = (): void => done({ ok: false, detail: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (socket) => {
      socket.once('connect', () => {
        handshaking = secure;
        stage(secure ? `in TLS handshake with ${target}` : 'waiting for response headers');
      });
      if (secure) {
        socket.once('secureConnect', () => {
          handshaking = false;
          stage('waiting for response headers');
        });
      }
    });
    // `on`, not `once`: destroying the request after the verdict can emit more errors.
    req.on('error', (e) => done({ ok: false, detail: handshaking ? `TLS handshake: ${errorDetail(e)}` : errorDetail(e) }));
    req.on('response', (response) => {
      res = response;
      const status = response.statusCode ?? 0;
      if (!want.some((r) => status >= r.from && status <= r.to)) {
        done({ ok: false, detail: `HTTP ${status}, want ${wantText}` });
        return;
      }
      if (digest === undefined) {
        done({ ok: true, detail: `HTTP ${status}` });
        return;
      }
      stage('reading body');
      const hash = createHash('sha256');
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBody) done({ ok: false, detail: `HTTP ${status}, body longer than ${maxBody} bytes` });
        else hash.update(chunk);
      });
      response.on('error', (e) => done({ ok: false, detail: `HTTP ${status}, reading body: ${errorDetail(e)}` }));
      response.on('close', () => {
        if (!response.complete) done({ ok: false, detail: `HTTP ${status}, connection closed before the end of the body` });
      });
      response.on('end', () => {
        if (finished) return;
        const got = hash.digest('hex');
        done(got === digest
          ? { ok: true, detail: `HTTP ${status}, body sha256 matches` }
          : { ok: false, detail: `HTTP ${status}, body sha256 mismatch: got ${got}` });
      });
    });
    req.end();
  });
}
