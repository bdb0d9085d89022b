// Credentials as a user hands them over (kubeconfig files, a pod's ServiceAccount), and the
// request path against a local HTTP server: what the API server sees and what callers get back.
// The TLS path runs against the real kube-apiserver in test/cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeApiError, kubeRequest } from '../../../src/kube/client.ts';
import { loadKubeConfig } from '../../../src/kube/kubeconfig.ts';
import type { KubeConfig } from '../../../src/kube/kubeconfig.ts';
import { apiListWatch } from '../../../src/kube/list-watch.ts';
import type { KubeObject } from '../../../src/kube/resources.ts';

const CA_PEM = '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n';

function scratch(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kl-kubeconfig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Doc {
  'current-context'?: string;
  contexts?: { name: string; context: Record<string, unknown> }[];
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): Doc {
  return {
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    clusters: [{ name: 'k', cluster }],
    users: [{ name: 'u', user }],
  };
}

function write(dir: string, name: string, doc: Doc | string): string {
  const path = join(dir, name);
  writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
  return path;
}

const tlsOptions = (kc: KubeConfig): https.AgentOptions => (kc.agent as https.Agent).options;

test('a token kubeconfig: the server without its trailing slash, a bearer token, the inline CA trusted', (t) => {
  const dir = scratch(t);
  const path = write(dir, 'config', kubeconfig(
    { server: 'https://198.18.0.2:6443/', 'certificate-authority-data': Buffer.from(CA_PEM).toString('base64') },
    { token: 'abc' },
  ));
  const kc = loadKubeConfig({ KUBECONFIG: path });
  assert.equal(kc.server, 'https://198.18.0.2:6443');
  assert.equal(kc.authorization(), 'Bearer abc');
  assert.ok(kc.agent instanceof https.Agent);
  assert.equal(String(tlsOptions(kc).ca), CA_PEM);
  assert.equal(tlsOptions(kc).rejectUnauthorized, true);
});

test('files named relative to a kubeconfig are read from its directory; client certificates and tls-server-name reach TLS', (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'pki'));
  writeFileSync(join(dir, 'pki', 'ca.crt'), CA_PEM);
  writeFileSync(join(dir, 'pki', 'me.crt'), 'CERT');
  writeFileSync(join(dir, 'pki', 'me.key'), 'KEY');
  const path = write(dir, 'config', kubeconfig(
    { server: 'https://api.test:6443', 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' },
    { 'client-certificate': 'pki/me.crt', 'client-key': join(dir, 'pki', 'me.key') },
  ));
  const kc = loadKubeConfig({ KUBECONFIG: path });
  assert.equal(String(tlsOptions(kc).ca), CA_PEM);
  assert.equal(String(tlsOptions(kc).cert), 'CERT');
  assert.equal(String(tlsOptions(kc).key as Buffer), 'KEY');
  assert.equal(tlsOptions(kc).servername, 'kubernetes');
  assert.equal(kc.authorization(), undefined, 'a certificate user sends no Authorization header');
});

test('several KUBECONFIG files: the first to name an entry wins, current-context from the first that sets one, missing files skipped', (t) => {
  const dir = scratch(t);
  const first = write(dir, 'first', {
    clusters: [{ name: 'k', cluster: { server: 'https://first:6443', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { username: 'ann', password: 'pw' } }],
  });
  const second = write(dir, 'second', {
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    clusters: [{ name: 'k', cluster: { server: 'https://second:6443' } }],
    users: [{ name: 'u', user: { token: 'second' } }],
  });
  const kc = loadKubeConfig({ KUBECONFIG: [join(dir, 'missing'), first, second].join(':') });
  assert.equal(kc.server, 'https://first:6443');
  assert.equal(tlsOptions(kc).rejectUnauthorized, false);
  assert.equal(kc.authorization(), `Basic ${Buffer.from('ann:pw').toString('base64')}`);
});

test('a token file is read again once a minute, so a rotated token is used', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const dir = scratch(t);
  writeFileSync(join(dir, 'token'), 'one\n');
  const kc = loadKubeConfig({ KUBECONFIG: write(dir, 'config', kubeconfig({ server: 'http://127.0.0.1:8080' }, { tokenFile: 'token' })) });
  assert.equal(kc.authorization(), 'Bearer one');
  writeFileSync(join(dir, 'token'), 'two\n');
  t.mock.timers.tick(59_000);
  assert.equal(kc.authorization(), 'Bearer one');
  t.mock.timers.tick(1_000);
  assert.equal(kc.authorization(), 'Bearer two');
});

test('in a pod: the service host and port, the ServiceAccount token and CA', (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'ca.crt'), CA_PEM);
  const env = { HOME: dir, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const kc = loadKubeConfig(env, dir);
  assert.equal(kc.server, 'https://10.96.0.1:443');
  assert.equal(kc.authorization(), 'Bearer sa-token');
  assert.equal(String(tlsOptions(kc).ca), CA_PEM);
  assert.equal(loadKubeConfig({ ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }, dir).server, 'https://[fd00::1]:443');
  // ~/.kube/config, when there is one, comes before the pod's own credentials (client-node's order).
  mkdirSync(join(dir, '.kube'));
  write(dir, '.kube/config', kubeconfig({ server: 'https://home:6443' }, { token: 'home' }));
  assert.equal(loadKubeConfig(env, dir).server, 'https://home:6443');
});

test('bad credentials are refused with what is wrong and where', (t) => {
  const dir = scratch(t);
  const load = (doc: Doc | string): KubeConfig => loadKubeConfig({ KUBECONFIG: write(dir, 'config', doc) });
  const good = kubeconfig({ server: 'https://k:6443' }, { token: 'x' });
  const cases: [string, Doc | string, RegExp][] = [
    ['no current-context', { ...good, 'current-context': undefined }, /kubeconfig .*config: no current-context/],
    ['an unknown context', { ...good, 'current-context': 'nope' }, /current-context "nope" is not among its contexts/],
    ['an unknown cluster', { ...good, clusters: [] }, /context "c" names cluster "k", which is not among its clusters/],
    ['an unknown user', { ...good, users: [] }, /context "c" names user "u", which is not among its users/],
    ['no server', kubeconfig({}, { token: 'x' }), /cluster "k" has no valid server URL/],
    ['an exec plugin', kubeconfig({ server: 'https://k:6443' }, { exec: { command: 'aws' } }), /user "u" authenticates with exec, which kubelived does not run/],
    ['an auth provider', kubeconfig({ server: 'https://k:6443' }, { 'auth-provider': { name: 'oidc' } }), /user "u" authenticates with auth-provider/],
    ['a proxy', kubeconfig({ server: 'https://k:6443', 'proxy-url': 'http://p:3128' }, {}), /cluster "k" sets proxy-url/],
    ['a certificate without its key', kubeconfig({ server: 'https://k:6443' }, { 'client-certificate-data': 'QQ==' }), /user "u" has a client certificate without its key/],
    ['contexts not a list', { ...good, contexts: 'c' as unknown as [] }, /contexts must be a list/],
    ['not YAML', 'clusters: [\n', /kubeconfig .*config: not YAML/],
  ];
  for (const [what, doc, message] of cases) assert.throws(() => load(doc), message, what);
  assert.throws(() => loadKubeConfig({ HOME: dir }, join(dir, 'no-sa')), /no Kubernetes credentials: set KUBECONFIG/);
});

test('requests: the token, JSON in and out, the API server\'s Status as KubeApiError, lists and watches without managedFields or kubectl\'s last-applied copy', async (t) => {
  const seen: { method?: string; url?: string; authorization?: string; contentType?: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/missing') {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'virtualservers "x" not found' }));
      } else if (url.searchParams.get('watch') === 'true') {
        const meta = { name: 'a', resourceVersion: '8', managedFields: [{ manager: 'kubelived-agent' }] };
        res.writeHead(200, { 'Content-Type': 'application/json' });
        // One event split across writes, as a busy server's chunks may fall.
        const line = `${JSON.stringify({ type: 'MODIFIED', object: { metadata: meta } })}\n`;
        res.write(line.slice(0, 10));
        setTimeout(() => res.end(line.slice(10)), 20);
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({
          kind: 'VirtualServerList', apiVersion: 'kubelived.io/v1alpha1', metadata: { resourceVersion: '7' },
          items: [{ metadata: {
            name: 'a', resourceVersion: '7', managedFields: [{ manager: 'kubectl' }],
            annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"spec":{}}', team: 'web' },
          } }],
        }));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const dir = scratch(t);
  const kc = loadKubeConfig({ KUBECONFIG: write(dir, 'config', kubeconfig({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { token: 't0k' })) });
  t.after(() => kc.agent.destroy());

  await kubeRequest(kc, '/apis/x', { method: 'PATCH', query: { fieldManager: 'me', force: true, skip: undefined }, body: { a: 1 }, contentType: 'application/apply-patch+yaml' });
  assert.deepEqual(seen.pop(), { method: 'PATCH', url: '/apis/x?fieldManager=me&force=true', authorization: 'Bearer t0k', contentType: 'application/apply-patch+yaml', body: '{"a":1}' });

  await assert.rejects(kubeRequest(kc, '/missing'), (e: unknown) =>
    e instanceof KubeApiError && e.status === 404 && e.reason === 'NotFound' && e.message === 'GET /missing: 404 NotFound: virtualservers "x" not found');

  const source = apiListWatch<KubeObject>(kc, '/apis/kubelived.io/v1alpha1/virtualservers');
  const listed = await source.list(AbortSignal.timeout(5000));
  assert.deepEqual(listed, { resourceVersion: '7', items: [{ apiVersion: 'kubelived.io/v1alpha1', kind: 'VirtualServer', metadata: { name: 'a', resourceVersion: '7', annotations: { team: 'web' } } }] });
  const events: unknown[] = [];
  let opened = false;
  await source.watch('7', { opened: () => { opened = true; }, event: (type, o) => events.push([type, o]) }, AbortSignal.timeout(5000));
  assert.ok(opened);
  assert.deepEqual(events, [['MODIFIED', { metadata: { name: 'a', resourceVersion: '8' } }]]);
  assert.match(seen.pop()?.url ?? '', /watch=true&resourceVersion=7&allowWatchBookmarks=true/);

  // Nothing listening: the error names the request and the reason.
  const gone = createServer().listen(0, '127.0.0.1');
  await once(gone, 'listening');
  const port = (gone.address() as AddressInfo).port;
  gone.close();
  await once(gone, 'close');
  const nowhere = loadKubeConfig({ KUBECONFIG: write(dir, 'nowhere', kubeconfig({ server: `http://127.0.0.1:${port}` }, {})) });
  await assert.rejects(kubeRequest(nowhere, '/apis/x'), new RegExp(`^Error: GET 127\\.0\\.0\\.1:${port}/apis/x: connect ECONNREFUSED`));
});
