// Runs real kubelived agents (the CLI, as a user would) inside lab node namespaces, and reads
// their JSON log lines to follow state transitions.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Lab, LabNode, LabProcess } from './lab.ts';

// The built CLI (npm run build), as installed: no type stripping in the agents under test.
const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

export interface InstanceOptions {
  name?: string;
  vrid?: number;
  version?: 2 | 3;
  vips: string[];
  priority?: number;
  priorityOverrides?: { node: string; priority: number }[];
  preempt?: boolean;
  preemptDelay?: string;
  advertisementInterval?: string;
  unicastPeers?: string[];
  authentication?: { type: 'PASS'; secretRef: { name: string; key: string } };
  tracks?: { name: string; weight: number; exec: { command: string[]; interval?: string; rise?: number; fall?: number } }[];
  garp?: { repeat?: number; delay?: string; refresh?: string };
}

/** A VrrpInstance document in the CRD's shape. */
export function vrrpInstance(o: InstanceOptions): Record<string, unknown> {
  const { name = 'vi', vrid = 51, ...rest } = o;
  return {
    apiVersion: 'kubelived.io/v1alpha1',
    kind: 'VrrpInstance',
    metadata: { name },
    spec: { vrid, interface: 'eth0', virtualIPs: o.vips, ...Object.fromEntries(Object.entries(rest).filter(([k]) => k !== 'vips')) },
  };
}

export function configYaml(docs: Record<string, unknown>[]): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** A kubelived agent process in a lab node, followed through its JSON log. */
export interface AgentProcess {
  node: LabNode;
  proc: LabProcess;
  /** Resolves with the transition into the state at or after output line `from` (default: the first line). */
  waitForState(instance: string, state: 'Master' | 'Backup' | 'Fault' | 'Initialize', timeoutMs: number, from?: number): Promise<TransitionLine>;
}

/** A standalone agent and the config file it reads. */
export interface RunningAgent extends AgentProcess {
  configPath: string;
}

export interface TransitionLine {
  instance: string;
  from: string;
  to: string;
  reason: string;
  t: number;
}

/** `kubelived agent ARGS...` (the built CLI) in the node's namespace, with extra environment. */
export function spawnAgent(lab: Lab, node: LabNode, args: string[], env: Record<string, string> = {}): AgentProcess {
  const proc = lab.spawn(node.netns, [process.execPath, CLI, 'agent', ...args], { env });
  return {
    node, proc,
    async waitForState(instance, state, timeoutMs, from) {
      const re = new RegExp(`"instance":"${instance}".*"to":"${state}"`);
      const line = await proc.waitForLine(re, timeoutMs, from ?? 0);
      const j = JSON.parse(line) as { instance: string; from: string; to: string; reason: string; time: string };
      return { instance: j.instance, from: j.from, to: j.to, reason: j.reason, t: Date.parse(j.time) };
    },
  };
}

/** A standalone agent reading `config` from a file of its own; the file's directory goes when the agent exits. */
export function startAgent(lab: Lab, node: LabNode, config: string, opts: { metricsAddr?: string } = {}): RunningAgent {
  const dir = mkdtempSync(join(tmpdir(), `kl-${node.name}-`));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, config);
  // Each agent keeps its own state (IPVS ownership) beside its config, as separate nodes would.
  const args = ['--config', configPath, '--node', node.name, '--state-dir', dir];
  if (opts.metricsAddr) args.push('--metrics-addr', opts.metricsAddr);
  const agent = spawnAgent(lab, node, args);
  void agent.proc.exited.then(() => rmSync(dir, { recursive: true, force: true }));
  return { ...agent, configPath };
}
