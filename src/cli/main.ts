#!/usr/bin/env node
// `kubelived` command line: `controller` (the cluster-wide controller), `agent` (the node agent),
// `self-check` and `version`. Each command's module is imported only when it runs: the agent's
// pulls in the native addon, which the controller, `version` and `self-check` (whose job is to
// report a broken addon) must not depend on.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../api/issues.ts';
import type { AgentArgs } from './agent-command.ts';

const USAGE = `usage:
  kubelived agent --config FILE --node NAME [--node-label KEY=VALUE ...] [--metrics-addr HOST:PORT]
                  [--state-dir DIR (default /var/lib/kubelived)]
  kubelived agent --kubernetes --node NAME --namespace NS [--metrics-addr HOST:PORT] [--state-dir DIR]
                  (credentials: KUBECONFIG, else the pod's ServiceAccount; NODE_NAME and
                  POD_NAMESPACE are the defaults of --node and --namespace)
  kubelived controller [--namespace NS (default POD_NAMESPACE, else kubelived-system)]
                  [--agent-image IMAGE] [--agent-config FILE (image, nodeSelector, tolerations, resources)]
                  [--metrics-addr HOST:PORT (default :9640)] [--leader-elect-lease-duration 15s]
                  [--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s]
                  [--owner-deployment NAME (the controller's Deployment: it then owns the agent DaemonSet)]
  kubelived self-check [--interface NAME (default lo)] [--require-ipvs]
  kubelived version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'version':
    case '--version':
      console.log(`kubelived ${version()} (node ${process.version})`);
      return 0;
    case 'agent': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          kubernetes: { type: 'boolean', default: false },
          node: { type: 'string', default: process.env.NODE_NAME },
          namespace: { type: 'string', default: process.env.POD_NAMESPACE },
          'node-label': { type: 'string', multiple: true },
          'metrics-addr': { type: 'string' },
          'state-dir': { type: 'string', default: '/var/lib/kubelived' },
        },
        strict: true,
      });
      if ((values.config === undefined) === !values.kubernetes) throw new UsageError('agent needs exactly one of --config FILE and --kubernetes');
      if (!values.node) throw new UsageError('agent needs --node NAME (or NODE_NAME)');
      const common = { node: values.node, metricsAddr: values['metrics-addr'], stateDir: values['state-dir'] };
      let agentArgs: AgentArgs;
      if (values.config !== undefined) {
        agentArgs = { ...common, mode: 'file', config: values.config, labels: values['node-label'] ?? [] };
      } else {
        if (values['node-label']) throw new UsageError('--node-label is for --config only: with --kubernetes the labels are the Node object\'s');
        if (!values.namespace) throw new UsageError('agent --kubernetes needs --namespace NS (or POD_NAMESPACE)');
        agentArgs = { ...common, mode: 'kubernetes', namespace: values.namespace };
      }
      const { runAgent } = await import('./agent-command.ts');
      return runAgent(agentArgs);
    }
    case 'controller': {
      const { values } = parseArgs({
        args: rest,
        options: {
          namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'kubelived-system' },
          'agent-image': { type: 'string' },
          'agent-config': { type: 'string' },
          'metrics-addr': { type: 'string', default: ':9640' },
          'leader-elect-lease-duration': { type: 'string', default: '15s' },
          'leader-elect-renew-deadline': { type: 'string', default: '10s' },
          'leader-elect-retry-period': { type: 'string', default: '2s' },
          'owner-deployment': { type: 'string' },
        },
        strict: true,
      });
      const { runController } = await import('./controller-command.ts');
      return runController({
        namespace: values.namespace,
        agentImage: values['agent-image'],
        agentConfig: values['agent-config'],
        metricsAddr: values['metrics-addr'],
        leaseDuration: values['leader-elect-lease-duration'],
        renewDeadline: values['leader-elect-renew-deadline'],
        retryPeriod: values['leader-elect-retry-period'],
        defaultImage: `kubelived:${version()}`,
        ownerDeployment: values['owner-deployment'],
      });
    }
    case 'self-check': {
      const { values } = parseArgs({
        args: rest,
        options: {
          interface: { type: 'string', default: 'lo' },
          'require-ipvs': { type: 'boolean', default: false },
        },
        strict: true,
      });
      const { runSelfCheck } = await import('./self-check.ts');
      return runSelfCheck({ interface: values.interface, requireIpvs: values['require-ipvs'] });
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : 'no command given');
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      console.error(`kubelived: invalid configuration:\n${e.message}`);
      process.exitCode = 2;
    } else if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`kubelived: ${(e as Error).message}\n${USAGE}`);
      process.exitCode = 64;
    } else {
      console.error(`kubelived: ${e instanceof Error ? e.stack : String(e)}`);
      process.exitCode = 1;
    }
  },
);
