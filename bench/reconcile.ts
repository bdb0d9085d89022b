// `npm run bench:reconcile`: how fast a change to a VirtualServer reaches the master's kernel and
// the object's status with 1,000 VirtualServers on a 3-node lab, and what the agents and the
// controller hold in memory at 1,000 and 10,000. bench/reconcile-cluster.ts does one run on a
// machine (real kube-apiserver, controller, three agents, a driver as the user); this file runs
// it twice:
//   vm    inside the ipvs-vm tier's guest (test/ipvs-vm: the host kernel has no IPVS), 1,000
//         VirtualServers, so the kernel side is real; everything runs in software emulation
//         (TCG), whose slowdown against the host is measured and printed with the results
//   host  in a lab on this machine, 1,000 and 10,000 VirtualServers: the agents find no IPVS
//         (they log it and retry) but everything up to the IPVS apply, the status path and the
//         memory figures are native speed
// No comparator exists for a Kubernetes reconcile loop; for the kernel side the VM run times
// ipvsadm making the same one change.
//
//   npm run bench:reconcile [-- --part vm|host] [--trials N] [--json FILE] [--logs DIR]
// --json: every trial's timestamps; --logs: the controller's and agents' logs, DIR/vm and DIR/host.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bootVm } from '../test/ipvs-vm/vm.ts';
import type { SizeResult } from './reconcile-cluster.ts';
import { memoryTable, sizeSummary } from './reconcile-report.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const RUN = join(ROOT, 'bench/reconcile-cluster.ts');
const VM_SIZES = [1000];
const HOST_SIZES = [1000, 10_000];
/** The guest holds the API server, etcd (on tmpfs), the controller and three agents. */
const VM_MEMORY_MIB = 6144;
const PROGRESS_EVERY_MS = 5000;

const { values } = parseArgs({
  options: {
    part: { type: 'string' },
    trials: { type: 'string', default: '100' },
    json: { type: 'string' },
    logs: { type: 'string' },
  },
  strict: true,
});
if (values.part !== undefined && values.part !== 'vm' && values.part !== 'host') throw new Error(`--part must be vm or host, got ${values.part}`);
const runArgs = (sizes: number[]): string[] => ['--sizes', sizes.join(','), '--trials', values.trials];

function parseResults(stdout: string, where: string): SizeResult[] {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return (JSON.parse(line) as { results: SizeResult[] }).results;
  } catch {
    throw new Error(`the ${where} run printed no results; its last output:\n${stdout.slice(-2000)}`);
  }
}

async function inVm(): Promise<{ results: SizeResult[]; slowdown: number }> {
  const vm = await bootVm({ memoryMiB: VM_MEMORY_MIB });
  try {
    const slowdown = await vm.measureSlowdown();
    process.stderr.write(`VM up (${vm.accel}, kernel ${vm.kernelRelease}); JavaScript ${slowdown.toFixed(1)}x slower than on the host\n`);
    await vm.run('modprobe ip_vs');
    const guestLogs = join(vm.shareDir, 'logs');
    const p = vm.spawn(['node', RUN, ...runArgs(VM_SIZES), '--kernel', ...(values.logs ? ['--logs', guestLogs] : [])]);
    let shown = 0;
    const timer = setInterval(() => {
      process.stderr.write(p.stderr.slice(shown).replace(/^(?=.)/gm, '[vm] '));
      shown = p.stderr.length;
    }, PROGRESS_EVERY_MS);
    const r = await p.exited.finally(() => {
      clearInterval(timer);
      // The share goes with the VM.
      if (values.logs && existsSync(guestLogs)) cpSync(guestLogs, join(values.logs, 'vm'), { recursive: true });
    });
    process.stderr.write(p.stderr.slice(shown).replace(/^(?=.)/gm, '[vm] '));
    if (r.code !== 0) throw new Error(`the run in the VM failed (exit ${r.code})`);
    return { results: parseResults(r.stdout, 'VM'), slowdown };
  } finally {
    await vm.shutdown();
  }
}

async function onHost(): Promise<SizeResult[]> {
  const logs = values.logs ? ['--logs', join(values.logs, 'host')] : [];
  const child = spawn(process.execPath, [RUN, ...runArgs(HOST_SIZES), ...logs], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`the run on the host failed (exit ${code})`);
  return parseResults(stdout, 'host');
}

const vm = values.part === 'host' ? undefined : await inVm();
const host = values.part === 'vm' ? undefined : await onHost();
if (values.json) writeFileSync(values.json, JSON.stringify({ vm, host }, null, 2));

const out: string[] = [];
if (vm) {
  out.push(`## In the VM (real IPVS; TCG: JavaScript ${vm.slowdown.toFixed(1)}x slower than on the host), times in ms after the write was sent`);
  for (const r of vm.results) out.push(sizeSummary(r));
  out.push(memoryTable(vm.results));
}
if (host) {
  out.push('## On the host (no IPVS in this kernel: the agents stop at the IPVS apply), times in ms after the write was sent');
  for (const r of host) out.push(sizeSummary(r));
  out.push(memoryTable(host));
}
console.log(`\n${out.join('\n\n')}`);
