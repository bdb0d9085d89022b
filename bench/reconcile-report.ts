// The tables `npm run bench:reconcile` prints from bench/reconcile-cluster.ts's results.
import type { ProcessSample, SizeResult, Trial } from './reconcile-cluster.ts';

/** Nearest-rank percentile (p in 0..1) of xs; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(p * s.length) - 1)] ?? NaN;
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');
const mib = (x: number | undefined): string => (x !== undefined && Number.isFinite(x) ? x.toFixed(1) : '-');

/** Each step of a change, as milliseconds after the write was sent (t0). */
const STEPS: { label: string; at: (t: Trial) => number | undefined }[] = [
  { label: 'API server answered the write', at: (t) => t.tResponse },
  { label: 'master agent built its new config ("configuration changed")', at: (t) => t.tConfig },
  { label: 'master agent\'s IPVS apply acknowledged ("IPVS reconciled")', at: (t) => t.tIpvs },
  { label: '**kernel**: `ipvsadm -Ln -t` in the master\'s namespace shows the new weight', at: (t) => t.tKernel },
  { label: 'status: the master\'s entry shows the new weight', at: (t) => t.tMaster },
  { label: 'status: observedGeneration (controller)', at: (t) => t.tObserved },
  { label: '**status** reflects it (both of the above)', at: (t) => Math.max(t.tMaster, t.tObserved) },
  { label: 'status: all three nodes\' entries show it', at: (t) => t.tAllNodes },
];

export function latencyTable(trials: readonly Trial[]): string {
  const rows = ['| step | p50 | p99 | max |', '|---|---|---|---|'];
  for (const s of STEPS) {
    const xs = trials.map((t) => (s.at(t) ?? NaN) - t.t0).filter((x) => Number.isFinite(x));
    if (xs.length === 0) continue;
    rows.push(`| ${s.label} | ${ms(percentile(xs, 0.5))} | ${ms(percentile(xs, 0.99))} | ${ms(Math.max(...xs))} |`);
  }
  return rows.join('\n');
}

export function memoryTable(results: readonly SizeResult[]): string {
  const rows = ['| VirtualServers | process | RSS MiB | peak RSS (VmHWM) MiB | JS heap used MiB | CPU s since start |', '|---|---|---|---|---|---|'];
  const row = (n: number, what: string, s: ProcessSample | undefined): void => {
    if (s) rows.push(`| ${n} | ${what} | ${mib(s.rssMiB)} | ${mib(s.hwmMiB)} | ${mib(s.heapUsedMiB)} | ${s.cpuS.toFixed(1)} |`);
  };
  for (const r of results) {
    for (const [node, s] of Object.entries(r.agents)) row(r.objects, `agent ${node}`, s);
    row(r.objects, 'controller', r.controller);
    row(r.objects, 'kube-apiserver + etcd (for scale)', r.apiServer);
  }
  return rows.join('\n');
}

export function sizeSummary(r: SizeResult): string {
  const lines = [
    `${r.objects} VirtualServers: created (server-side apply, 16 at a time) in ${(r.createMs / 1000).toFixed(1)} s; every status complete ${(r.settleMs / 1000).toFixed(1)} s after the first create` +
      (r.kernelLoadedMs !== undefined ? `; all in the master's kernel after ${(r.kernelLoadedMs / 1000).toFixed(1)} s` : ''),
    `${r.trials.length} changes (one real server's weight, one VirtualServer at a time, spread over the objects):`,
    latencyTable(r.trials),
  ];
  if (r.probeMs !== undefined) lines.push(`(one \`ipvsadm -Ln -t\` in the master's namespace, process start to exit: ${r.probeMs.toFixed(0)} ms median, run again 5 ms after each; the kernel changed between the last read without the weight and the first with it)`);
  if (r.kubectlMs) lines.push(`\`kubectl apply --server-side\` of one change, process start to exit: median ${ms(percentile(r.kubectlMs, 0.5))} ms of ${r.kubectlMs.length}`);
  if (r.ipvsadmMs) lines.push(`\`ipvsadm -e\` of the same one change (${r.objects} services loaded), process start to exit: median ${ms(percentile(r.ipvsadmMs, 0.5))} ms of ${r.ipvsadmMs.length}`);
  return lines.join('\n\n');
}
