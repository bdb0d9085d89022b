// Where the API server is and how to prove who we are: a kubeconfig file (KUBECONFIG, else
// ~/.kube/config) or the pod's ServiceAccount. Read here rather than with
// @kubernetes/client-node's KubeConfig: importing that class loads the library's whole generated
// API, about 85 MB of resident memory on Node 24 (measured: docs/benchmarks.md), which every
// node's agent would carry for two fields and a certificate.
//
// Supported, as client-go reads them: several files in KUBECONFIG (the first to name an entry
// wins), current-context, server, certificate-authority(-data), insecure-skip-tls-verify,
// tls-server-name, token, tokenFile, client-certificate(-data), client-key(-data), username and
// password. Plugins (exec, auth-provider) and proxies are refused by name: kubelived runs no
// credential helpers.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';

export interface KubeConfig {
  /** The API server's base URL, e.g. https://10.96.0.1:443, without a trailing slash. */
  readonly server: string;
  /** Keep-alive connections that trust the cluster's CA and present the client certificate, if any. */
  readonly agent: http.Agent;
  /** The Authorization header, if the credentials have one (a token file is read again as it rotates). */
  authorization(): string | undefined;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Token files rotate (the kubelet renews bound tokens); client-go reads them again each minute too. */
const TOKEN_REREAD_MS = 60_000;

/** KUBECONFIG when set, else ~/.kube/config when it exists, else the in-cluster ServiceAccount. */
export function loadKubeConfig(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeConfig {
  if (env.KUBECONFIG) return fromKubeconfigFiles(env.KUBECONFIG.split(delimiter).filter(Boolean));
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return fromKubeconfigFiles([home]);
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountDir, 'token'))) return inCluster(env, serviceAccountDir);
  throw new Error('no Kubernetes credentials: set KUBECONFIG, or run in a pod with a ServiceAccount token');
}

function inCluster(env: NodeJS.ProcessEnv, dir: string): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  const token = fileToken(join(dir, 'token'));
  return {
    server,
    agent: new https.Agent({ keepAlive: true, ca: readFileSync(join(dir, 'ca.crt')) }),
    authorization: () => `Bearer ${token()}`,
  };
}

function fileToken(path: string): () => string {
  let token = '';
  let readAt = -Infinity;
  return () => {
    if (Date.now() - readAt >= TOKEN_REREAD_MS) {
      token = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return token;
  };
}

type Fields = Record<string, unknown>;

const text = (fields: Fields, key: string): string | undefined => (typeof fields[key] === 'string' ? fields[key] : undefined);

/** A named entry of clusters/users/contexts, with the file it came from (relative paths start there). */
interface Named {
  fields: Fields;
  file: string;
}

interface Merged {
  currentContext?: string;
  contexts: Map<string, Named>;
  clusters: Map<string, Named>;
  users: Map<string, Named>;
}

function fromKubeconfigFiles(files: string[]): KubeConfig {
  const merged: Merged = { contexts: new Map(), clusters: new Map(), users: new Map() };
  for (const file of files) {
    if (!existsSync(file)) continue; // client-go skips missing files in the list, too
    let doc: Fields;
    try {
      doc = (parse(readFileSync(file, 'utf8')) ?? {}) as Fields;
    } catch (e) {
      throw new Error(`kubeconfig ${file}: not YAML: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (typeof doc['current-context'] === 'string' && doc['current-context'] !== '') merged.currentContext ??= doc['current-context'];
    for (const [list, into, key] of [['contexts', merged.contexts, 'context'], ['clusters', merged.clusters, 'cluster'], ['users', merged.users, 'user']] as const) {
      const entries = doc[list] ?? [];
      if (!Array.isArray(entries)) throw new Error(`kubeconfig ${file}: ${list} must be a list`);
      for (const e of entries as Fields[]) {
        const name = e.name;
        if (typeof name !== 'string') throw new Error(`kubeconfig ${file}: an entry of ${list} has no name`);
        if (!into.has(name)) into.set(name, { fields: (e[key] ?? {}) as Fields, file });
      }
    }
  }
  const where = `kubeconfig ${files.join(delimiter)}`;
  if (merged.currentContext === undefined) throw new Error(`${where}: no current-context`);
  const context = merged.contexts.get(merged.currentContext);
  if (!context) throw new Error(`${where}: current-context "${merged.currentContext}" is not among its contexts`);
  const clusterName = text(context.fields, 'cluster') ?? '';
  const cluster = merged.clusters.get(clusterName);
  if (!cluster) throw new Error(`${where}: context "${merged.currentContext}" names cluster "${clusterName}", which is not among its clusters`);
  const userName = text(context.fields, 'user');
  const user = userName === undefined ? undefined : merged.users.get(userName);
  if (userName !== undefined && !user) throw new Error(`${where}: context "${merged.currentContext}" names user "${userName}", which is not among its users`);
  return connection(cluster, clusterName, user, userName ?? '');
}

function connection(cluster: Named, clusterName: string, user: Named | undefined, userName: string): KubeConfig {
  const c = cluster.fields;
  const u = user?.fields ?? {};
  const at = (what: string, name: string, file: string): string => `kubeconfig ${file}: ${what} "${name}"`;
  if (c['proxy-url'] !== undefined) throw new Error(`${at('cluster', clusterName, cluster.file)} sets proxy-url, which kubelived does not support`);
  for (const key of ['exec', 'auth-provider']) {
    if (u[key] !== undefined && user) {
      throw new Error(`${at('user', userName, user.file)} authenticates with ${key}, which kubelived does not run; use a token, a token file or a client certificate`);
    }
  }
  const server = typeof c.server === 'string' ? c.server.replace(/\/+$/, '') : '';
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new Error(`${at('cluster', clusterName, cluster.file)} has no valid server URL (got "${server}")`);
  }
  // Data fields are base64 PEM; file fields are paths, relative to the file that names them.
  const bytes = (fields: Fields, dataKey: string, fileKey: string, file: string): Buffer | undefined => {
    if (typeof fields[dataKey] === 'string') return Buffer.from(fields[dataKey], 'base64');
    const p = fields[fileKey];
    return typeof p === 'string' && p !== '' ? readFileSync(isAbsolute(p) ? p : resolve(dirname(file), p)) : undefined;
  };
  const cert = user && bytes(u, 'client-certificate-data', 'client-certificate', user.file);
  const key = user && bytes(u, 'client-key-data', 'client-key', user.file);
  if ((cert === undefined) !== (key === undefined) && user) {
    throw new Error(`${at('user', userName, user.file)} has a client certificate without its key, or a key without its certificate`);
  }
  const agent = url.protocol === 'http:'
    ? new http.Agent({ keepAlive: true })
    : new https.Agent({
      keepAlive: true,
      ca: bytes(c, 'certificate-authority-data', 'certificate-authority', cluster.file),
      rejectUnauthorized: c['insecure-skip-tls-verify'] !== true,
      ...(typeof c['tls-server-name'] === 'string' ? { servername: c['tls-server-name'] } : {}),
      ...(cert && key ? { cert, key } : {}),
    });
  let authorization: () => string | undefined = () => undefined;
  if (typeof u.token === 'string' && u.token !== '') {
    const header = `Bearer ${u.token}`;
    authorization = () => header;
  } else if (typeof u.tokenFile === 'string' && user) {
    const token = fileToken(isAbsolute(u.tokenFile) ? u.tokenFile : resolve(dirname(user.file), u.tokenFile));
    authorization = () => `Bearer ${token()}`;
  } else if (typeof u.username === 'string') {
    const header = `Basic ${Buffer.from(`${u.username}:${text(u, 'password') ?? ''}`).toString('base64')}`;
    authorization = () => header;
  }
  return { server, agent, authorization };
}
