// `kubelived agent`: the node agent with its signal handling, its config from a file
// (standalone) or from the API server (Kubernetes mode, what the DaemonSet runs).
import { Agent } from '../agent/agent.ts';
import { FileConfigSource } from '../agent/config-source.ts';
import type { ConfigSource } from '../agent/config-source.ts';
import { KubeConfigSource } from '../agent/kube-config-source.ts';
import { KubeStatus } from '../agent/kube-status.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { log } from '../log.ts';
import { Ipvs } from '../net/ipvs.ts';

export type AgentArgs = {
  node: string;
  metricsAddr: string | undefined;
  stateDir: string;
} & (
  | { mode: 'file'; config: string; labels: string[] }
  | { mode: 'kubernetes'; namespace: string }
);

/** After the VRRP hand-over, the STOPPED entries get this long to reach the API server. */
const STATUS_STOP_TIMEOUT_MS = 2000;

export async function runAgent(args: AgentArgs): Promise<number> {
  const logger = log.child({ node: args.node });
  let source: ConfigSource;
  let status: KubeStatus | undefined;
  const labels: Record<string, string> = { 'kubernetes.io/hostname': args.node };
  if (args.mode === 'file') {
    for (const l of args.labels) {
      const eq = l.indexOf('=');
      if (eq <= 0) throw new Error(`--node-label must be KEY=VALUE, got ${l}`);
      labels[l.slice(0, eq)] = l.slice(eq + 1);
    }
    source = new FileConfigSource(args.config);
  } else {
    let kc;
    try {
      kc = loadKubeConfig();
    } catch (e) {
      const from = process.env.KUBECONFIG ? `KUBECONFIG ${process.env.KUBECONFIG}` : 'the default locations';
      return kubeStartFailed(logger, new Error(`cannot load Kubernetes credentials from ${from}: ${e instanceof Error ? e.message : String(e)}`));
    }
    const kube = new KubeConfigSource({ kc, node: args.node, namespace: args.namespace, log: logger });
    status = new KubeStatus({ kc, node: args.node, namespace: args.namespace, log: logger, objects: kube });
    source = kube;
  }
  const agent = new Agent({
    node: { name: args.node, labels },
    source,
    metricsAddr: args.metricsAddr,
    log: logger,
    stateDir: args.stateDir,
    openIpvs: () => new Ipvs(),
    ...(status ? { status } : {}),
  });
  try {
    await agent.start();
  } catch (e) {
    if (args.mode === 'file') throw e; // the config's issues, printed by main
    return kubeStartFailed(logger, e);
  }
  status?.start();
  logger.info(args.mode === 'file' ? { config: args.config } : { namespace: args.namespace }, 'agent started');
  return new Promise((resolve) => {
    process.on('SIGHUP', () => agent.reload());
    const stop = (signal: string): void => {
      const stopped = agent.stop();
      logger.info({ signal }, 'stopping: handing over to the backups');
      // Status waits for the hand-over: the priority-0 adverts go first.
      void stopped.then(() => status?.stop(STATUS_STOP_TIMEOUT_MS)).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Credentials, RBAC, a missing Node: say what and exit non-zero, never run with nothing. */
function kubeStartFailed(logger: typeof log, e: unknown): number {
  logger.fatal({ err: e instanceof Error ? e.message : String(e) }, 'cannot start in Kubernetes mode');
  return 1;
}
