// A fixed piece of ordinary JavaScript work (build objects, JSON round trip, sort, Map), run by the
// same Node binary on the host and inside the guest; the ratio of the two times is the VM's
// slowdown factor for JavaScript (vm.slowdown). Allocation, GC and builtins dominate it, as in
// the agent's own code. (A tight integer loop was tried first: under TCG its speed depends on where
// V8 happens to place the compiled loop, 3x or 14x in different processes of the same guest.)
// It says how much slower guest code runs, not how much slower the guest kernel's system calls
// are: README.md has those numbers.

interface Item {
  id: number;
  name: string;
  addr: string;
  port: number;
  weight: number;
}

function work(): number {
  const items: Item[] = [];
  for (let i = 0; i < 2000; i++)
    items.push({ id: i, name: `svc-${(i * 7919) % 2000}`, addr: `198.18.${i >> 8}.${i & 255}`, port: 80 + (i % 7), weight: i % 5 });
  const back = JSON.parse(JSON.stringify(items)) as Item[];
  back.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const m = new Map<string, Item>();
  for (const it of back) m.set(`${it.addr}:${it.port}`, it);
  let acc = 0;
  for (const [k, v] of m) acc += k.length + v.weight;
  return acc;
}

/**
 * The steady-state time (ms) of the fixed work: rounds run until the best time has not improved
 * by 5% for 5 rounds in a row (or maxMs has passed); the best round counts, so a GC pause or a
 * descheduled vCPU does not.
 */
export function calibrate(maxMs = 2000): number {
  const deadline = performance.now() + maxMs;
  let sink = 0;
  let best = Infinity;
  let stale = 0;
  while (stale < 5 && performance.now() < deadline) {
    const t0 = performance.now();
    sink ^= work();
    const t = performance.now() - t0;
    if (t < best * 0.95) stale = 0;
    else stale++;
    best = Math.min(best, t);
  }
  if (sink === 0x7fffffff) console.log(''); // keep the result observable
  return best;
}
