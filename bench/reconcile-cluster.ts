// One run of `npm run bench:reconcile` on this machine (the host, or the ipvs-vm guest: see
// bench/reconcile.ts): a 3-node lab with the real kube-apiserver (test/cluster), the controller
// in the client namespace, one agent per node started with the container args and env of the
// DaemonSet the controller created, and bench/reconcile-driver.ts as the user. For each size it
// creates the VirtualServers, waits until every status is complete, samples memory and CPU,
// then changes one real server's weight at a time and times each step:
//   API answer      the write's round trip
//   agent config    the master agent's "configuration changed" log line (its new config built)
//   IPVS applied    the master agent's "IPVS reconciled" line: the kernel acknowledged it
//   kernel          the first `ipvsadm -Ln -t VIP:PORT` in the master's namespace that shows it
// (Netlink, as ipvsadm and the agent read the kernel: /proc/net/ip_vs is no witness here. With
// the same services in several namespaces, as on the lab's three nodes, Debian's 6.1 kernel
// lists only some of them there: 350 of 1,000 with three namespaces, while netlink shows all.)
//   status          the driver's watch: the master's entry, observedGeneration, all three entries
// --kernel: IPVS exists here (the guest); without it the agents log that IPVS is unavailable
// and the kernel columns stay empty. --logs DIR: the controller's and agents' logs go there.
// Prints one JSON line with everything on stdout; progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MANIFESTS_FILE } from '../scripts/render-manifests.ts';
import type { V1Container } from '@kubernetes/client-node';
import { startTestCluster } from '../test/cluster/lib/cluster.ts';
import type { TestCluster } from '../test/cluster/lib/cluster.ts';
import { containerEnv, expandArgs } from '../test/cluster/lib/pods.ts';
import type { LabProcess } from '../test/lab/lab.ts';
import { sleep } from '../test/lab/run.ts';
import { waitFor } from '../test/lab/wait.ts';
import { cpuSeconds } from './proc-stats.ts';
import {
  BENCH_NAMESPACE, FIELD_MANAGER, INSTANCE, MASTER, REAL_SERVERS, REAL_SERVER_PORT, VIP, portOf, servicesIn, virtualServer, weightIn,
} from './reconcile-objects.ts';

const ROOT = new URL('../', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli/main.js');
const DRIVER = join(ROOT, 'bench/reconcile-driver.ts');
const RELEASE_NAMESPACE = 'kubelived-system';
/** Quiet time before memory is sampled: the initial burst of status writes has drained. */
const IDLE_MS = 10_000;
/** Between trials, plus up to as much again at random, so trials land anywhere in the agents' timers. */
const PAUSE_MS = 300;
const KERNEL_POLL_MS = 5;
/** How often the kernel's service count is read while the objects are created. */
const LOAD_POLL_MS = 2000;
/** After the status is complete, how long the kernel may still take to show it. */
const KERNEL_GRACE_MS = 60_000;
const KUBECTL_RUNS = 5;
/** How often a long wait says how far it got. */
const REPORT_MS = 30_000;
/** The metrics of the controller (the Deployment's --metrics-addr :9640) and of an agent (the DaemonSet's 0.0.0.0:9641), each in its namespace. */
const CONTROLLER_METRICS_URL = 'http://127.0.0.1:9640/metrics';
const AGENT_METRICS_URL = 'http://127.0.0.1:9641/metrics';
const IPVSADM_RUNS = 5;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000' },
    trials: { type: 'string', default: '100' },
    kernel: { type: 'boolean', default: false },
    logs: { type: 'string' },
  },
  strict: true,
});
const sizes = values.sizes.split(',').map(Number);
const trials = Number(values.trials);
if (sizes.some((n, k) => !Number.isInteger(n) || n < 1 || n > 50_000 || (k > 0 && n <= (sizes[k - 1] ?? 0)))) {
  throw new Error(`--sizes must be increasing counts of VirtualServers (1-50000), got ${values.sizes}`);
}
if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials must be a positive integer, got ${values.trials}`);

const started = Date.now();
const progress = (msg: string): void => void process.stderr.write(`[reconcile ${((Date.now() - started) / 1000).toFixed(0)} s] ${msg}\n`);

export interface Trial {
  index: number;
  weight: number;
  t0: number;
  tResponse: number;
  tConfig: number;
  tIpvs?: number;
  tKernel?: number;
  /** End of the read before the one that showed it: the kernel changed in (tKernelBefore, tKernel]. */
  tKernelBefore?: number;
  tMaster: number;
  tObserved: number;
  tAllNodes: number;
}

export interface ProcessSample {
  rssMiB: number;
  hwmMiB: number;
  cpuS: number;
  /** The main thread's V8 heap in use and memory held outside it, from the process's own metrics. */
  heapUsedMiB?: number;
  externalMiB?: number;
}

export interface SizeResult {
  objects: number;
  createMs: number;
  /** From the first create until every VirtualServer's status was complete. */
  settleMs: number;
  /** From the first create until the master's kernel held every service (--kernel). */
  kernelLoadedMs?: number;
  controller: ProcessSample;
  agents: Record<string, ProcessSample>;
  apiServer: ProcessSample | undefined;
  trials: Trial[];
  /** Median time of one `ipvsadm -Ln -t` in the master's namespace, process start to exit (--kernel). */
  probeMs?: number;
  /** Wall time of `kubectl apply --server-side` of one change, process start to exit (first size only). */
  kubectlMs?: number[];
  /** Wall time of `ipvsadm -e` of the same change in a namespace of its own (--kernel, first size only). */
  ipvsadmMs?: number[];
}

function memory(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024, cpuS: cpuSeconds(pid) };
}

/** memory() plus the heap figures of the process's /metrics (prom-client's default metrics). */
async function processSample(c: TestCluster, netns: string, pid: number, metricsUrl: string): Promise<ProcessSample> {
  const m = memory(pid);
  const r = await c.lab.exec(netns, ['curl', '-sf', '--max-time', '30', metricsUrl], { allowFail: true, timeoutMs: 40_000 });
  const metric = (name: string): number | undefined => {
    const v = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.stdout)?.[1];
    return v === undefined ? undefined : Number(v) / 1024 / 1024;
  };
  return { ...m, heapUsedMiB: metric('nodejs_heap_size_used_bytes'), externalMiB: metric('nodejs_external_memory_bytes') };
}

/** The API server (with its etcd) in the client namespace: not a process this file started. */
function apiServerPid(c: TestCluster): number | undefined {
  const pids = spawnSync('ip', ['netns', 'pids', c.lab.client.netns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean).map(Number);
  return pids.find((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('apiserver');
    } catch {
      return false;
    }
  });
}

/** Requests to the driver, one JSON line each; answers matched by id. */
function driverClient(proc: LabProcess): (op: string, args?: Record<string, unknown>) => Promise<Record<string, number>> {
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: Record<string, number>) => void; reject: (e: Error) => void }>();
  proc.onLine((l) => {
    if (l.stream !== 'stdout' || !l.line.startsWith('{')) return;
    const m = JSON.parse(l.line) as { id?: number; error?: string };
    const w = m.id === undefined ? undefined : waiting.get(m.id);
    if (!w || m.id === undefined) return;
    waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(`driver: ${m.error}`));
    else w.resolve(m as Record<string, number>);
  });
  void proc.exited.then(() => {
    const tail = proc.output.slice(-10).map((l) => l.line).join('\n');
    for (const w of waiting.values()) w.reject(new Error(`the driver exited:\n${tail}`));
    waiting.clear();
  });
  return (op, args = {}) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    proc.child.stdin?.write(`${JSON.stringify({ id, op, ...args })}\n`);
  });
}

interface Workload {
  spec: { template: { spec: { containers: V1Container[]; volumes?: { name: string; configMap?: { name: string } }[] } } };
}

async function getJson<T>(c: TestCluster, args: string[]): Promise<T | undefined> {
  const r = await c.kubectl(['get', ...args, '-o', 'json'], { allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) as T : undefined;
}

/**
 * The controller's argv as the kubelet would run the installed Deployment's container: its
 * ConfigMap volumes are written to `dir` and the paths in its args point there.
 */
async function controllerCommand(c: TestCluster, deployment: Workload, dir: string): Promise<string[]> {
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  if (!container) throw new Error('the controller Deployment has no container');
  let args = container.args ?? [];
  for (const m of container.volumeMounts ?? []) {
    const configMap = pod.volumes?.find((v) => v.name === m.name)?.configMap?.name;
    if (configMap === undefined) throw new Error(`the controller Deployment mounts ${m.name}, which the benchmark cannot provide`);
    const cm = await getJson<{ data?: Record<string, string> }>(c, ['configmap', configMap, '-n', RELEASE_NAMESPACE]);
    const local = join(dir, m.name);
    mkdirSync(local);
    for (const [file, text] of Object.entries(cm?.data ?? {})) writeFileSync(join(local, file), text);
    args = args.map((a) => (a.startsWith(`${m.mountPath}/`) ? local + a.slice(m.mountPath.length) : a));
  }
  return [process.execPath, CLI, ...args];
}

/** The agent's argv and env on `node`, as the kubelet would run the DaemonSet's container there. */
function agentCommand(ds: Workload, node: string, stateDir: string): { argv: string[]; env: Record<string, string> } {
  const container = ds.spec.template.spec.containers[0];
  if (!container) throw new Error('the agent DaemonSet has no container');
  const fields = { 'spec.nodeName': node, 'metadata.namespace': RELEASE_NAMESPACE };
  const args = expandArgs(container, fields);
  // Each node has its own disk (the DaemonSet's hostPath): here, its own directory.
  const at = args.indexOf('--state-dir');
  if (at >= 0) args[at + 1] = stateDir;
  // The image's entrypoint is the kubelived CLI.
  return { argv: [process.execPath, CLI, ...args], env: containerEnv(container, fields) };
}

/** `ipvsadm -Ln ARGS` in the master's namespace. */
async function ipvsadmList(c: TestCluster, master: LabProcess, args: string[] = []): Promise<string> {
  return (await c.lab.exec(master.netns, ['ipvsadm', '-Ln', ...args], { timeoutMs: 60_000 })).stdout;
}

/**
 * The first `ipvsadm -Ln -t` of VirtualServer `index` in the master's namespace that shows
 * `weight`; gives up at `stop.deadline` (set once the driver has answered).
 */
async function kernelShows(c: TestCluster, master: LabProcess, index: number, weight: number, stop: { deadline: number }): Promise<{ t: number; before: number; readMs: number[] }> {
  const readMs: number[] = [];
  let before = Date.now();
  for (;;) {
    const start = performance.now();
    const text = await ipvsadmList(c, master, ['-t', `${VIP}:${portOf(index)}`]).catch(() => '');
    readMs.push(performance.now() - start);
    const t = Date.now();
    if (weightIn(text) === weight) return { t, before, readMs };
    if (t > stop.deadline) throw new Error(`the master's kernel did not show weight ${weight} on port ${portOf(index)}`);
    before = t;
    await sleep(KERNEL_POLL_MS);
  }
}

/** p, or a rejection with `message` after ms. */
async function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the master's kernel holds `size` services; says how far it got now and then. */
async function kernelLoaded(c: TestCluster, master: LabProcess, size: number): Promise<void> {
  let last = Date.now();
  for (;;) {
    const n = servicesIn(await ipvsadmList(c, master));
    if (n >= size) return;
    if (Date.now() - last > REPORT_MS) {
      progress(`${n}/${size} services in ${MASTER}'s kernel`);
      last = Date.now();
    }
    if (!master.running) throw new Error(`the agent on ${MASTER} exited`);
    await sleep(LOAD_POLL_MS);
  }
}

/** `time` of the master agent's first log line with `msg` at or after output line `from`. */
async function logTime(agent: LabProcess, msg: string, from: number): Promise<number> {
  const line = await agent.waitForLine(new RegExp(`"msg":"${msg}"`), 120_000, from);
  return Date.parse((JSON.parse(line) as { time: string }).time);
}

function ipvsadmChange(c: TestCluster, objects: number): number[] {
  // A namespace of its own (named like the lab's, so a crashed run's is swept with it).
  const ns = `${c.lab.id}-ref`;
  const run = (argv: string[], input?: string): void => {
    const r = spawnSync(argv[0] ?? '', argv.slice(1), { input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  run(['ip', 'netns', 'add', ns]);
  try {
    // Without lo the kernel has no local table to call a real server's address unicast (EINVAL).
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    const rules: string[] = [];
    for (let i = 0; i < objects; i++) {
      rules.push(`-A -t ${VIP}:${portOf(i)} -s wlc`);
      for (const rs of REAL_SERVERS) rules.push(`-a -t ${VIP}:${portOf(i)} -r ${rs}:${REAL_SERVER_PORT} -m -w 1`);
    }
    run(['ip', 'netns', 'exec', ns, 'ipvsadm', '-R'], `${rules.join('\n')}\n`);
    const ms: number[] = [];
    for (let k = 0; k < IPVSADM_RUNS; k++) {
      const t = performance.now();
      run(['ip', 'netns', 'exec', ns, 'ipvsadm', '-e', '-t', `${VIP}:${portOf(objects >> 1)}`, '-r', `${REAL_SERVERS[0]}:${REAL_SERVER_PORT}`, '-m', '-w', String(k + 2)]);
      ms.push(performance.now() - t);
    }
    return ms;
  } finally {
    run(['ip', 'netns', 'del', ns]);
  }
}

if (values.logs) mkdirSync(values.logs, { recursive: true });
const logFile = (name: string): { logFile?: string } => (values.logs ? { logFile: join(values.logs, `${name}.log`) } : {});

const scratchDirs: string[] = [];
/** A fresh directory, removed at the end. */
function scratch(what: string): string {
  const d = mkdtempSync(join(tmpdir(), `kl-bench-${what}-`));
  scratchDirs.push(d);
  return d;
}
const cluster = await startTestCluster({ nodes: 3, name: 'rec' });
const results: SizeResult[] = [];
let driver: LabProcess | undefined;
let controller: LabProcess | undefined;
const agents = new Map<string, LabProcess>();
try {
  const c = cluster;
  progress(`API server up at ${c.url}`);
  // The plain install (the chart rendered): CRDs, RBAC, the controller Deployment. No kubelet
  // runs here: the controller and the agents are started as their pods would run them.
  await c.kubectl(['apply', '-f', MANIFESTS_FILE]);
  await c.kubectl(['wait', '--for=condition=Established', '--timeout=120s', 'crd/vrrpinstances.kubelived.io', 'crd/virtualservers.kubelived.io'], { timeoutMs: 150_000 });
  await c.kubectl(['create', 'namespace', BENCH_NAMESPACE]);

  const deployment = await getJson<Workload>(c, ['deployment', 'kubelived-controller', '-n', RELEASE_NAMESPACE]);
  if (!deployment) throw new Error(`${MANIFESTS_FILE} has no Deployment kubelived-controller`);
  controller = c.lab.spawn(c.lab.client.netns, await controllerCommand(c, deployment, scratch('controller')),
    { env: { KUBECONFIG: c.kubeconfig.controller, POD_NAME: 'kubelived-controller-bench' }, ...logFile('controller') });
  const ds = await waitFor('the agent DaemonSet', () => getJson<Workload>(c, ['daemonset', 'kubelived-agent', '-n', RELEASE_NAMESPACE]), 300_000, 1000);
  for (const n of c.lab.nodes) {
    const stateDir = scratch(`state-${n.name}`);
    const { argv, env } = agentCommand(ds, n.name, stateDir);
    agents.set(n.name, c.lab.spawn(n.netns, argv, { env: { ...env, KUBECONFIG: c.kubeconfig.agent }, ...logFile(`agent-${n.name}`) }));
  }
  for (const a of agents.values()) await a.waitForLine(/"msg":"agent started"/, 300_000, 0);
  const master = agents.get(MASTER);
  if (!master) throw new Error(`no agent on ${MASTER}`);
  progress('controller and 3 agents running');

  driver = c.lab.spawn(c.lab.client.netns, [process.execPath, DRIVER, '--kubeconfig', c.kubeconfig.admin], { stdin: 'pipe' });
  driver.onLine((l) => { if (l.stream === 'stderr') progress(`driver: ${l.line}`); });
  await driver.waitForLine(/"ready":true/, 300_000, 0);
  const rpc = driverClient(driver);
  await rpc('instance');
  await master.waitForLine(new RegExp(`"instance":"${INSTANCE}".*"to":"Master"`), 300_000, 0);
  progress(`${MASTER} is master of ${INSTANCE}`);

  let have = 0;
  for (const size of sizes) {
    const t0 = Date.now();
    const createMs = (await rpc('create', { from: have, to: size })).ms ?? NaN;
    progress(`created VirtualServers ${have}..${size - 1} in ${createMs} ms`);
    have = size;
    const loaded = values.kernel ? kernelLoaded(c, master, size).then(() => Date.now() - t0) : undefined;
    loaded?.catch(() => undefined); // awaited below
    await rpc('settled', { count: size });
    const settleMs = Date.now() - t0;
    const kernelLoadedMs = loaded && await within(loaded, KERNEL_GRACE_MS, `every status is complete, but ${MASTER}'s kernel did not hold all ${size} services ${KERNEL_GRACE_MS / 1000} s later`);
    progress(`status complete on all ${size} after ${settleMs} ms${kernelLoadedMs === undefined ? '' : `, kernel loaded after ${kernelLoadedMs} ms`}`);
    await sleep(IDLE_MS);
    const apiPid = apiServerPid(c);
    const r: SizeResult = {
      objects: size, createMs, settleMs, kernelLoadedMs,
      controller: await processSample(c, c.lab.client.netns, controller.pid, CONTROLLER_METRICS_URL),
      agents: Object.fromEntries(await Promise.all([...agents].map(async ([n, a]) => [n, await processSample(c, a.netns, a.pid, AGENT_METRICS_URL)]))) as Record<string, ProcessSample>,
      apiServer: apiPid === undefined ? undefined : memory(apiPid),
      trials: [],
    };
    progress(`memory (RSS/heap used): controller ${r.controller.rssMiB.toFixed(1)}/${r.controller.heapUsedMiB?.toFixed(1)} MiB, agents ${Object.values(r.agents).map((a) => `${a.rssMiB.toFixed(1)}/${a.heapUsedMiB?.toFixed(1)}`).join(', ')} MiB`);

    const readMs: number[] = [];
    for (let k = 0; k < trials; k++) {
      // Spread over the objects; every weight differs from the object's current one.
      const index = (k * 7919 + size * 13) % size;
      const weight = 2 + (k % 50) + results.length * 50;
      const from = master.mark();
      const stop = { deadline: Infinity };
      const kernel = values.kernel ? kernelShows(c, master, index, weight, stop) : undefined;
      kernel?.catch(() => undefined); // awaited below, unless the change itself fails first
      const s = await rpc('change', { index, weight }).finally(() => { stop.deadline = Date.now() + KERNEL_GRACE_MS; });
      const k2 = await kernel;
      const trial: Trial = {
        index, weight, t0: s.t0 ?? NaN, tResponse: s.tResponse ?? NaN,
        tConfig: await logTime(master, 'configuration changed', from),
        tMaster: s.tMaster ?? NaN, tObserved: s.tObserved ?? NaN, tAllNodes: s.tAllNodes ?? NaN,
        ...(k2 ? { tKernel: k2.t, tKernelBefore: k2.before, tIpvs: await logTime(master, 'IPVS reconciled', from) } : {}),
      };
      if (k2) readMs.push(...k2.readMs);
      r.trials.push(trial);
      if ((k + 1) % 10 === 0) progress(`${size}: ${k + 1}/${trials} trials`);
      await sleep(PAUSE_MS + Math.random() * PAUSE_MS);
    }
    if (readMs.length > 0) r.probeMs = readMs.sort((a, b) => a - b)[readMs.length >> 1];

    if (results.length === 0) {
      // What the user's own tools add: kubectl (a process per change) and, for the kernel side,
      // ipvsadm making the same one change.
      r.kubectlMs = [];
      for (let k = 0; k < KUBECTL_RUNS; k++) {
        const index = (k * 31 + 17) % size;
        const t = Date.now();
        await c.kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', '-'], { input: JSON.stringify(virtualServer(index, 1000 + k)) });
        r.kubectlMs.push(Date.now() - t);
        await rpc('settled', { count: size });
      }
      if (values.kernel) r.ipvsadmMs = ipvsadmChange(c, size);
    }
    results.push(r);
  }
} catch (e) {
  // What the processes said last: in the VM nothing else of them survives the run.
  for (const [name, p] of [['controller', controller], ...agents] as [string, LabProcess | undefined][]) {
    for (const l of p?.output.slice(-20) ?? []) progress(`${name}: ${l.line.slice(0, 500)}`);
  }
  throw e;
} finally {
  await driver?.stop(5000);
  // Agents first, as a node drain would: each hands over before it exits.
  await Promise.all([...agents.values()].map((a) => a.stop(30_000)));
  await controller?.stop(15_000);
  await cluster.teardown();
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
}
console.log(JSON.stringify({ results }));
