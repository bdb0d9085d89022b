// A fixed CPU-bound loop, run by the same Node binary on the host and inside the guest; the ratio
// of the two times is the VM's slowdown factor for JavaScript (vm.slowdown). It is a JIT-compiled
// integer loop: it says how much slower guest code runs, not how much slower the guest kernel's
// system calls are (those are measured separately, see README.md).

function loop(n: number): number {
  let x = 0x12345678;
  let acc = 0;
  for (let i = 0; i < n; i++) {
    // xorshift32: cheap, not optimisable away, no allocation.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    acc = (acc + (x & 0xffff)) | 0;
  }
  return acc;
}

export const CALIBRATE_ITERATIONS = 1_000_000;

/**
 * The steady-state time (ms) of the fixed loop: rounds run until the best time has not improved
 * by 5% for 4 rounds in a row (or maxMs has passed). V8 optimises the loop on a background
 * thread, which in a slow guest finishes many rounds later than on the host; timing the first
 * rounds would measure the compiler, not the code.
 */
export function calibrate(maxMs = 2000): number {
  const deadline = performance.now() + maxMs;
  let sink = 0;
  let best = Infinity;
  let stale = 0;
  while (stale < 4 && performance.now() < deadline) {
    const t0 = performance.now();
    sink ^= loop(CALIBRATE_ITERATIONS);
    const t = performance.now() - t0;
    if (t < best * 0.95) stale = 0;
    else stale++;
    best = Math.min(best, t);
  }
  if (sink === 0x7fffffff) console.log(''); // keep the result observable
  return best;
}
