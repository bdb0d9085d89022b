// A real Kubernetes control plane for the cluster tier: kube-apiserver and etcd (the Go
// harness, test/cluster/harness) in the lab's client namespace, the lab's nodes registered as
// Node objects, and kubectl for each of the chart's identities. There is no kubelet and no
// controller-manager: tests start agents themselves and create what those would.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab } from '../../lab/lab.ts';
import type { Lab, LabProcess } from '../../lab/lab.ts';
import { pidAlive } from '../../lab/run.ts';
import type { RunResult } from '../../lab/run.ts';
import { startApiServerProcess, stopApiServerProcess, harnessBinary, API_SERVER_PORT } from './harness.ts';
import { RELEASE_NAMESPACE, list, namespaceObject, nodeObject } from './manifests.ts';

export type Identity = 'admin' | 'controller' | 'agent' | 'nobody';

export interface KubectlOptions {
  /** Whose kubeconfig (default admin). */
  as?: Identity;
  /** stdin, e.g. a manifest for `apply -f -`. */
  input?: string;
  /** Resolve with the non-zero exit code instead of rejecting. */
  allowFail?: boolean;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface TestCluster {
  lab: Lab;
  /** https://<client address>:6443 */
  url: string;
  /** The API server's state dir: certificates, tokens, kubeconfigs, etcd data, logs. */
  dir: string;
  kubeconfig: Record<Identity, string>;
  /** kubectl inside the client namespace; rejects with kubectl's stderr on failure unless allowFail. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<RunResult>;
  /** SIGTERM; rejects unless the API server and etcd stop cleanly (exit 0). */
  stopApiServer(): Promise<void>;
  /** Starts it again on the same dir (data, certificates and tokens); resolves when ready. */
  startApiServer(): Promise<void>;
  /** Idempotent; also runs at the lab's teardown. */
  teardown(): Promise<void>;
}

export interface TestClusterOptions {
  nodes: number;
  /** Lab name (see createLab), for a process that runs more than one lab. */
  name?: string;
}

const IDENTITIES: Identity[] = ['admin', 'controller', 'agent', 'nobody'];
const KUBECTL_TIMEOUT_MS = 60_000;
// State dirs are named after their lab (kl<pid>...), so a dir whose process is gone is stale.
const STATE_DIR_RE = /^kubelived-cluster-kl(\d+)-/;

/**
 * Removes state dirs left by processes that died without their teardown (a signal: the lab's
 * exit hook kills the API server but cannot wait to delete its dir), as createLab does for
 * their namespaces.
 */
function sweepStaleStateDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(STATE_DIR_RE.exec(name)?.[1] ?? 0);
    if (pid !== 0 && pid !== process.pid && !pidAlive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export async function startTestCluster(opts: TestClusterOptions): Promise<TestCluster> {
  // Before creating anything: a missing harness is a setup error, never a skip.
  const bin = harnessBinary();
  // createLab first: its sweep kills what still runs in stale labs, API servers included.
  const lab = await createLab({ nodes: opts.nodes, name: opts.name });
  sweepStaleStateDirs();
  const dir = mkdtempSync(join(tmpdir(), `kubelived-cluster-${lab.id}-`));
  const netns = lab.client.netns;
  let server: LabProcess | undefined;

  lab.onTeardown(async () => {
    try {
      if (server) await stopApiServerProcess(server);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const kubeconfig = Object.fromEntries(IDENTITIES.map((id) => [id, join(dir, `${id}.kubeconfig`)])) as Record<Identity, string>;
  const cluster: TestCluster = {
    lab,
    url: `https://${lab.client.ipv4}:${API_SERVER_PORT}`,
    dir,
    kubeconfig,
    kubectl(args, o = {}) {
      // Discovery cache in the state dir and no ~/.kube/kuberc: nothing from the machine's
      // own kubectl setup leaks in, nothing of the test leaks out.
      const argv = ['env', `KUBECACHEDIR=${join(dir, 'kubectl-cache')}`, 'KUBERC=off', bin, 'kubectl', '--kubeconfig', kubeconfig[o.as ?? 'admin'], ...args];
      return lab.exec(netns, argv, { timeoutMs: o.timeoutMs ?? KUBECTL_TIMEOUT_MS, input: o.input, allowFail: o.allowFail });
    },
    async stopApiServer() {
      if (!server) throw new Error('stopApiServer: the API server is not running');
      const s = server;
      server = undefined;
      await stopApiServerProcess(s);
    },
    async startApiServer() {
      if (server) throw new Error('startApiServer: the API server is already running');
      server = await startApiServerProcess(lab, bin, dir);
    },
    teardown: () => lab.teardown(),
  };

  try {
    await cluster.startApiServer();
    const items = [namespaceObject(RELEASE_NAMESPACE), ...lab.nodes.map((n) => nodeObject(n, new Date()))];
    await cluster.kubectl(['create', '-f', '-'], { input: list(items) });
  } catch (e) {
    await lab.teardown().catch(() => undefined);
    throw e;
  }
  return cluster;
}
