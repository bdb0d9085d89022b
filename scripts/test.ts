// `npm test`: every tier, in order, failing loudly when a tier cannot run (a skipped tier is a
// failure, not a pass). Prints one closing line "tests: N passed, N failed" over all tiers.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Tier {
  name: string;
  argv: string[];
  /** Runs node's test runner, whose summary we count. */
  counts: boolean;
}

const node = process.execPath;
const TIERS: Tier[] = [
  { name: 'typecheck', argv: [node, 'node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], counts: false },
  // The agents the netns, ipvs-vm and cluster tiers start run the built CLI in dist/.
  { name: 'build', argv: [node, 'node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], counts: false },
  { name: 'lint', argv: [node, 'node_modules/eslint/bin/eslint.js', '.'], counts: false },
  { name: 'unit', argv: [node, '--test', '--test-reporter=spec', 'test/unit/**/*.test.ts'], counts: true },
  { name: 'native (ASan/UBSan)', argv: ['bash', 'native/asan-test.sh'], counts: true },
  { name: 'netns', argv: [node, '--test', '--test-concurrency=1', '--test-reporter=spec', 'test/netns/**/*.test.ts'], counts: true },
  // The host kernel has no IPVS: these boot Debian's kernel in a throw-away qemu VM.
  { name: 'ipvs-vm', argv: [node, '--test', '--test-concurrency=1', '--test-reporter=spec', 'test/ipvs-vm/**/*.test.ts'], counts: true },
  // The image's build script, run in a clean copy of the project (no container engine here).
  { name: 'image', argv: [node, '--test', '--test-concurrency=1', '--test-reporter=spec', 'test/image/**/*.test.ts'], counts: true },
  // A real kube-apiserver and etcd (test/cluster/harness, built by test/cluster/build-harness.sh).
  { name: 'cluster', argv: [node, '--test', '--test-concurrency=1', '--test-reporter=spec', 'test/cluster/**/*.test.ts'], counts: true },
  // The chart with the real helm (test/helm, built by test/helm/build-helm.sh): lint, golden
  // renders, and an install into the cluster tier's API server.
  { name: 'helm', argv: [node, '--test', '--test-concurrency=1', '--test-reporter=spec', 'test/helm/**/*.test.ts'], counts: true },
];

function run(t: Tier): Promise<{ code: number; pass: number; fail: number }> {
  return new Promise((resolve) => {
    console.log(`\n=== tier: ${t.name} ===`);
    const [cmd = '', ...args] = t.argv;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let pass = 0;
    let fail = 0;
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ℹ (pass|fail) (\d+)$/.exec(line.trim());
        if (m?.[1] === 'pass') pass += Number(m[2]);
        if (m?.[1] === 'fail') fail += Number(m[2]);
      }
    });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), pass, fail }));
  });
}

function preflight(): string | undefined {
  if (process.getuid?.() !== 0) return 'the netns tier needs root (network namespaces, raw sockets)';
  if (!existsSync('test/cluster/.bin/kubelived-cluster')) {
    return 'the cluster tier needs the API server harness: run bash test/cluster/build-harness.sh (Go 1.26)';
  }
  if (!existsSync('test/helm/.bin/helm')) return 'the helm tier needs helm: run bash test/helm/build-helm.sh (Go 1.26)';
  return undefined;
}

const problem = preflight();
if (problem) {
  console.error(`npm test: cannot run every tier: ${problem}`);
  process.exit(1);
}

let passed = 0;
let failed = 0;
const failedTiers: string[] = [];
for (const t of TIERS) {
  const r = await run(t);
  passed += r.pass;
  failed += r.fail;
  if (r.code !== 0) failedTiers.push(t.name);
  if (t.counts && r.code === 0 && r.pass === 0) failedTiers.push(`${t.name} (ran no test)`);
}
console.log(`\n${failedTiers.length ? `failed tiers: ${failedTiers.join(', ')}` : 'all tiers passed'}`);
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failedTiers.length ? 1 : 0);
