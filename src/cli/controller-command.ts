// `kubelived controller`: validates and summarises the resources, owns the agent DaemonSet;
// one leader among the replicas. SIGTERM releases the leader Lease so a standby takes over at
// once.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseDuration } from '../api/duration.ts';
import { ConfigError } from '../api/issues.ts';
import { defaultAgentValues, parseAgentValues } from '../controller/agent-config.ts';
import { Controller } from '../controller/controller.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { log } from '../log.ts';

export interface ControllerArgs {
  namespace: string;
  agentImage: string | undefined;
  agentConfig: string | undefined;
  metricsAddr: string | undefined;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  /** The image the agents run when neither --agent-image nor the config names one. */
  defaultImage: string;
  /** The Deployment running the controller, made the agent DaemonSet's owner. */
  ownerDeployment: string | undefined;
}

export async function runController(args: ControllerArgs): Promise<number> {
  const agent = args.agentConfig === undefined
    ? defaultAgentValues(args.agentImage ?? args.defaultImage)
    : parseAgentValues(readFileSync(args.agentConfig, 'utf8'), args.agentConfig, args.defaultImage, args.agentImage);
  const leaderElection = {
    leaseDurationMs: durationArg('--leader-elect-lease-duration', args.leaseDuration),
    renewDeadlineMs: durationArg('--leader-elect-renew-deadline', args.renewDeadline),
    retryPeriodMs: durationArg('--leader-elect-retry-period', args.retryPeriod),
  };
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = leaderElection;
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs)) {
    throw new ConfigError([{ where: 'command line', field: '--leader-elect-*', message: `needs retry period < renew deadline < lease duration, got ${args.retryPeriod}, ${args.renewDeadline}, ${args.leaseDuration}` }]);
  }
  // client-go's convention: the host (the pod name in a pod) and something unique per process.
  const identity = `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
  const logger = log.child({ identity });
  const controller = new Controller({
    kc: loadKubeConfig(), namespace: args.namespace, agent, identity, leaderElection, metricsAddr: args.metricsAddr,
    ownerDeployment: args.ownerDeployment, log: logger,
  });
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping: releasing the leader lease');
      void controller.stop().then(() => resolve(0), (e: unknown) => {
        logger.error({ err: e }, 'unclean stop');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  try {
    await controller.start();
  } catch (e) {
    logger.fatal({ err: e instanceof Error ? e.message : String(e) }, 'controller cannot start');
    await controller.stop().catch(() => undefined);
    return 1;
  }
  return stopped;
}

function durationArg(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new ConfigError([{ where: 'command line', field: flag, message: `must be a duration such as 15s or 500ms, got ${text}` }]);
  return ms;
}
