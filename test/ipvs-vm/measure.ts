// Timings of the VM harness (README.md "Timings"): `node test/ipvs-vm/measure.ts [--fresh] [--boots N]`.
// --fresh uses an empty temporary kernel cache, so the first boot includes the download and unpack.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootVm, PROJECT_ROOT, type Vm } from './vm.ts';

const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const boots = Number(args[args.indexOf('--boots') + 1] ?? 3) || 3;

let freshCache: string | undefined;
if (fresh) {
  freshCache = mkdtempSync(join(tmpdir(), 'klvm-cache-'));
  process.env.KUBELIVED_VM_CACHE = freshCache;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

async function timeGuest(vm: Vm, argv: string[], n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await vm.run(argv);
    out.push(performance.now() - t0);
  }
  return out;
}

function timeHost(argv: string[], n: number): number[] {
  const out: number[] = [];
  const [file = '', ...rest] = argv;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync(file, rest, { cwd: PROJECT_ROOT });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.toString()}`);
    out.push(performance.now() - t0);
  }
  return out;
}

// Syscall-bound work inside one Node process: 20,000 stat() calls; prints the milliseconds.
const STAT_LOOP = "const fs=require('node:fs');const t=performance.now();for(let i=0;i<20000;i++)fs.statSync('/proc/self');console.log(performance.now()-t)";
const node = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');

try {
  for (let b = 0; b < boots; b++) {
    const t0 = Date.now();
    const vm = await bootVm();
    const bootTotal = Date.now() - t0;
    await vm.measureSlowdown();
    console.log(
      `boot ${b + 1}: ${bootTotal} ms to the first command (kernel ${vm.kernel.fresh ? 'downloaded+unpacked' : 'cached'}: ${vm.kernel.prepareMs} ms; qemu start to runner ready ${vm.bootMs} ms; ` +
        `guest uptime at runner start ${vm.bootPhases.runnerStartUptime} s, ready ${vm.bootPhases.readyUptime} s), JS slowdown ${vm.slowdown}x`,
    );
    if (b === boots - 1) {
      const g = {
        exec: median(await timeGuest(vm, ['true'], 10)),
        ipvsadm: median(await timeGuest(vm, ['ipvsadm', '-Ln'], 5)),
        nodeStart: median(await timeGuest(vm, [node, '-e', '0'], 3)),
        nodeTs: median(await timeGuest(vm, [node, 'test/ipvs-vm/calibrate.ts'], 3)),
        stat: median(await Promise.all([0, 1, 2].map(async () => Number(await vm.run([node, '-e', STAT_LOOP]))))),
      };
      const h = {
        exec: median(timeHost(['true'], 10)),
        nodeStart: median(timeHost([node, '-e', '0'], 3)),
        nodeTs: median(timeHost([node, 'test/ipvs-vm/calibrate.ts'], 3)),
        stat: median([0, 1, 2].map(() => Number(spawnSync(node, ['-e', STAT_LOOP]).stdout.toString()))),
      };
      const f = (x: number): string => `${x.toFixed(0)} ms`;
      console.log(`exec round trip (true): guest ${f(g.exec)} (host spawn ${h.exec.toFixed(1)} ms)`);
      console.log(`ipvsadm -Ln: guest ${f(g.ipvsadm)}`);
      console.log(`node -e 0: guest ${f(g.nodeStart)}, host ${f(h.nodeStart)} (${(g.nodeStart / h.nodeStart).toFixed(1)}x)`);
      console.log(`node file.ts (type stripping): guest ${f(g.nodeTs)}, host ${f(h.nodeTs)} (${(g.nodeTs / h.nodeTs).toFixed(1)}x)`);
      console.log(`20,000 stat() in node: guest ${f(g.stat)}, host ${f(h.stat)} (${(g.stat / h.stat).toFixed(1)}x)`);
    }
    const s0 = Date.now();
    await vm.shutdown();
    console.log(`  shutdown ${Date.now() - s0} ms`);
  }
} finally {
  if (freshCache) rmSync(freshCache, { recursive: true, force: true });
}
