#!/usr/bin/env node
// `kubelived` command line: `agent` runs the node agent, `version` prints the version.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../api/issues.ts';
import { runAgent } from './agent-command.ts';

const USAGE = `usage:
  kubelived agent --config FILE --node NAME [--node-label KEY=VALUE ...] [--metrics-addr HOST:PORT]
                  [--state-dir DIR (default /var/lib/kubelived)]
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
          node: { type: 'string' },
          'node-label': { type: 'string', multiple: true },
          'metrics-addr': { type: 'string' },
          'state-dir': { type: 'string', default: '/var/lib/kubelived' },
        },
        strict: true,
      });
      if (!values.config || !values.node) throw new UsageError('agent needs --config FILE and --node NAME');
      return runAgent({
        config: values.config,
        node: values.node,
        labels: values['node-label'] ?? [],
        metricsAddr: values['metrics-addr'],
        stateDir: values['state-dir'],
      });
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
