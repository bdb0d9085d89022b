// The agent's HTTP surface: /metrics for Prometheus, /healthz (the process answers) and /readyz
// (the VRRP thread has applied a configuration).
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';

export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--metrics-addr must be HOST:PORT (e.g. 0.0.0.0:9650), got ${text}`);
  return { host: m[1] ?? m[2] ?? '', port };
}

export function serveHttp(addr: string, registry: Registry, ready: () => boolean): Promise<Server> {
  const { host, port } = parseListenAddress(addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
      }, (e: unknown) => res.writeHead(500).end(String(e)));
    } else if (path === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503).end(ok ? 'ok\n' : 'not ready\n');
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => resolve(server));
  });
}
