// The user's side of `npm run bench:reconcile`, started by bench/reconcile-cluster.ts in the
// lab's client namespace (where the API server is reachable) with the admin kubeconfig: creates
// the objects with server-side apply (what `kubectl apply --server-side` sends), changes one at a
// time, and watches the VirtualServers as `kubectl get -w` would, to say when a change shows in
// status. One JSON request per line on stdin, one JSON answer per line on stdout, each with the
// request's id; times are Date.now() of this machine, the clock the agents log with.
//
//   {"id":1,"op":"instance"}                        -> {"id":1}
//   {"id":2,"op":"create","from":0,"to":1000}       -> {"id":2,"ms":...}
//   {"id":3,"op":"settled","count":1000}            -> {"id":3}  (status complete on every object)
//   {"id":4,"op":"change","index":7,"weight":3}     -> {"id":4,"t0":...,"tResponse":...,"tMaster":...,"tObserved":...,"tAllNodes":...}
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { applyObject } from '../src/kube/apply.ts';
import { makeInformer } from '../src/kube/informer.ts';
import { loadKubeConfig } from '../src/kube/kubeconfig.ts';
import { VIRTUAL_SERVERS, VRRP_INSTANCES, resourcePath } from '../src/kube/resources.ts';
import type { KubeObject } from '../src/kube/resources.ts';
import { BENCH_NAMESPACE, FIELD_MANAGER, INSTANCE, MASTER, NODES, REAL_SERVERS, nameOf, virtualServer, vrrpInstance } from './reconcile-objects.ts';

interface Entry { node: string; realServers?: { address: string; weight: number }[] }
interface Server extends KubeObject {
  spec?: { realServers?: { address: string; weight: number }[] };
  status?: { observedGeneration?: number; master?: string; nodes?: Entry[] };
}
type Request =
  | { id: number; op: 'instance' }
  | { id: number; op: 'create'; from: number; to: number }
  | { id: number; op: 'settled'; count: number }
  | { id: number; op: 'change'; index: number; weight: number };

/** Creates in flight at once: enough to keep the API server busy, not so many that it sheds load. */
const CREATE_CONCURRENCY = 16;
const CHANGE_TIMEOUT_MS = 120_000;
const SETTLE_REPORT_MS = 30_000;

const { values } = parseArgs({ options: { kubeconfig: { type: 'string' } }, strict: true });
if (!values.kubeconfig) throw new Error('reconcile-driver: --kubeconfig FILE is required');
const kc = loadKubeConfig({ KUBECONFIG: values.kubeconfig });
// Informer warnings to stderr: stdout carries the answers.
const log = pino({ level: 'warn', base: { component: 'bench-driver' } }, pino.destination(2));

const weightOf = (entries: { address: string; weight: number }[] | undefined): number | undefined =>
  entries?.find((r) => r.address === REAL_SERVERS[0])?.weight;
const entryWeight = (o: Server, node: string): number | undefined => weightOf(o.status?.nodes?.find((e) => e.node === node)?.realServers);

/** Status says everything about the current spec: the controller's summary and every node's entry. */
function settled(o: Server): boolean {
  const want = weightOf(o.spec?.realServers);
  return o.status?.observedGeneration === o.metadata.generation && o.status?.master === MASTER
    && NODES.every((n) => entryWeight(o, n) === want);
}

const informer = makeInformer<Server>(kc, resourcePath(VIRTUAL_SERVERS, BENCH_NAMESPACE), { name: 'bench virtualservers', log });
const settledKeys = new Set<string>();
let waitingFor: { count: number; done: () => void } | undefined;

interface Trial { name: string; weight: number; generation: number; t0: number; tMaster?: number; tObserved?: number; tAllNodes?: number; done: () => void }
let trial: Trial | undefined;

function seen(o: Server): void {
  const now = Date.now();
  if (settled(o)) settledKeys.add(o.metadata.name);
  else settledKeys.delete(o.metadata.name);
  if (waitingFor && settledKeys.size >= waitingFor.count) {
    waitingFor.done();
    waitingFor = undefined;
  }
  const t = trial;
  if (!t || o.metadata.name !== t.name) return;
  if (t.tMaster === undefined && entryWeight(o, MASTER) === t.weight) t.tMaster = now;
  if (t.tObserved === undefined && (o.status?.observedGeneration ?? 0) >= t.generation) t.tObserved = now;
  if (t.tAllNodes === undefined && NODES.every((n) => entryWeight(o, n) === t.weight)) t.tAllNodes = now;
  if (t.tMaster !== undefined && t.tObserved !== undefined && t.tAllNodes !== undefined) t.done();
}
informer.on({ add: seen, update: seen, delete: (o) => settledKeys.delete(o.metadata.name) });
informer.start();
await informer.synced;

async function create(from: number, to: number): Promise<number> {
  const t0 = Date.now();
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await applyObject(kc, VIRTUAL_SERVERS, { namespace: BENCH_NAMESPACE, name: nameOf(i) }, virtualServer(i), FIELD_MANAGER, false);
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, worker));
  return Date.now() - t0;
}

/** Resolves once `count` objects are settled; says on stderr how far it got, now and then. */
function untilSettled(count: number): Promise<void> {
  if (settledKeys.size >= count) return Promise.resolve();
  const timer = setInterval(() => {
    const behind = informer.list().find((o) => !settled(o));
    const why = behind && `${behind.metadata.name} generation ${behind.metadata.generation}: ${JSON.stringify({ ...behind.status, conditions: undefined })}`;
    process.stderr.write(`settled ${settledKeys.size}/${count}${why ? `; e.g. ${why}` : ''}\n`);
  }, SETTLE_REPORT_MS);
  return new Promise((resolve) => {
    waitingFor = { count, done: () => { clearInterval(timer); resolve(); } };
  });
}

async function change(index: number, weight: number): Promise<Record<string, number>> {
  const name = nameOf(index);
  const cached = informer.get(BENCH_NAMESPACE, name);
  if (!cached?.metadata.generation) throw new Error(`${name} is not in the cache`);
  let done!: () => void;
  const finished = new Promise<void>((resolve) => { done = resolve; });
  // A spec change bumps the generation by one; known before the answer, in case the watch is faster.
  const t: Trial = { name, weight, generation: cached.metadata.generation + 1, t0: Date.now(), done };
  trial = t;
  const stored = await applyObject<Server>(kc, VIRTUAL_SERVERS, { namespace: BENCH_NAMESPACE, name }, virtualServer(index, weight), FIELD_MANAGER, false);
  const tResponse = Date.now();
  if (stored.metadata.generation !== t.generation) throw new Error(`${name}: generation ${stored.metadata.generation}, expected ${t.generation}`);
  const current = informer.get(BENCH_NAMESPACE, name);
  if (current) seen(current);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([finished, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} weight ${weight}: status not complete after ${CHANGE_TIMEOUT_MS} ms (master ${t.tMaster}, observed ${t.tObserved}, all ${t.tAllNodes})`)), CHANGE_TIMEOUT_MS);
    })]);
  } finally {
    clearTimeout(timer);
    trial = undefined;
  }
  return { t0: t.t0, tResponse, tMaster: t.tMaster ?? NaN, tObserved: t.tObserved ?? NaN, tAllNodes: t.tAllNodes ?? NaN };
}

async function handle(r: Request): Promise<Record<string, unknown>> {
  switch (r.op) {
    case 'instance':
      await applyObject(kc, VRRP_INSTANCES, { name: INSTANCE }, vrrpInstance(), FIELD_MANAGER, false);
      return {};
    case 'create':
      return { ms: await create(r.from, r.to) };
    case 'settled':
      await untilSettled(r.count);
      return {};
    case 'change':
      return change(r.index, r.weight);
  }
}

const answer = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
// Requests are handled one at a time, in order: each is a step of the benchmark.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const r = JSON.parse(line) as Request;
  queue = queue.then(() => handle(r).then(
    (res) => answer({ id: r.id, ...res }),
    (e: unknown) => answer({ id: r.id, error: e instanceof Error ? e.message : String(e) }),
  ));
}).on('close', () => {
  void queue.then(() => informer.stop()).then(() => process.exit(0));
});
answer({ ready: true });
