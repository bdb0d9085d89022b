// `kubelived agent`: the standalone agent (config from a file) with its signal handling.
import { Agent } from '../agent/agent.ts';
import { FileConfigSource } from '../agent/config-source.ts';
import { log } from '../log.ts';
import { Ipvs } from '../net/ipvs.ts';

export interface AgentArgs {
  config: string;
  node: string;
  labels: string[];
  metricsAddr: string | undefined;
  stateDir: string;
}

export async function runAgent(args: AgentArgs): Promise<number> {
  const labels: Record<string, string> = { 'kubernetes.io/hostname': args.node };
  for (const l of args.labels) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`--node-label must be KEY=VALUE, got ${l}`);
    labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const agent = new Agent({
    node: { name: args.node, labels },
    source: new FileConfigSource(args.config),
    metricsAddr: args.metricsAddr,
    log: log.child({ node: args.node }),
    stateDir: args.stateDir,
    openIpvs: () => new Ipvs(),
  });
  await agent.start();
  log.info({ node: args.node, config: args.config }, 'agent started');
  return new Promise((resolve) => {
    process.on('SIGHUP', () => agent.reload());
    const stop = (signal: string): void => {
      const stopped = agent.stop();
      log.info({ signal }, 'stopping: handing over to the backups');
      void stopped.then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
