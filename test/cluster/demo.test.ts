// `npm run demo` (scripts/demo.ts) end to end, as a user runs it: what it prints (the kubectl
// tables with MASTER n1, the new master after the SIGKILL, n1 again after its restart; the
// client's traffic), and that it leaves nothing behind, whether it finishes or is interrupted.
// Every process the demo starts inherits a marker in its environment, which is how the test
// finds any left over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { waitFor } from '../lab/wait.ts';

const DEMO = new URL('../../scripts/demo.ts', import.meta.url).pathname;
const MARKER = 'KUBELIVED_DEMO_TEST';
const RUN_TIMEOUT_MS = 240_000;

interface DemoRun {
  pid: number;
  marker: string;
  output: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the output contains `text`; rejects if the demo exits first. */
  waitForOutput(text: string, timeoutMs: number): Promise<void>;
}

function startDemo(): DemoRun {
  const marker = randomBytes(8).toString('hex');
  const child = spawn(process.execPath, [DEMO], { env: { ...process.env, [MARKER]: marker }, stdio: ['ignore', 'pipe', 'pipe'] });
  assert.ok(child.pid);
  let exited = false;
  const run: DemoRun = {
    pid: child.pid,
    marker,
    output: '',
    exit: new Promise((resolve) => child.on('exit', (code, signal) => {
      exited = true;
      resolve({ code, signal });
    })),
    async waitForOutput(text, timeoutMs) {
      await waitFor(`"${text}" in the demo's output`, () => Promise.resolve(run.output.includes(text) || exited), timeoutMs, 100);
      if (!run.output.includes(text)) throw new Error(`the demo exited without printing "${text}":\n${run.output}`);
    },
  };
  for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (d: string) => (run.output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  void run.exit.then(() => clearTimeout(timer));
  return run;
}

/** The demo's namespaces, processes (by the marker) and API server state dirs still there. */
function leftovers(run: DemoRun): string[] {
  const found: string[] = [];
  for (const ns of readdirSync('/run/netns')) if (ns.startsWith(`kl${run.pid}-`)) found.push(`netns ${ns}`);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`${MARKER}=${run.marker}`)) {
        found.push(`process ${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ')}`);
      }
    } catch {
      // gone meanwhile
    }
  }
  for (const d of readdirSync(tmpdir())) if (d.startsWith(`kubelived-cluster-kl${run.pid}-`)) found.push(`dir ${tmpdir()}/${d}`);
  return found;
}

async function assertNothingLeft(run: DemoRun): Promise<void> {
  // A SIGKILLed process takes a moment to be reaped.
  await waitFor('nothing left behind', () => Promise.resolve(leftovers(run).length === 0), 5000, 100).catch(() => undefined);
  assert.deepEqual(leftovers(run), []);
}

/** MASTER of each `kubectl get vrrpinstances,virtualservers` table, in order, per kind. */
function mastersShown(output: string): { instance: string[]; server: string[] } {
  const column = (row: RegExp, index: number): string[] =>
    output.split('\n').map((l) => l.trim()).filter((l) => row.test(l)).map((l) => l.split(/\s+/)[index] ?? '');
  // vrrpinstance: NAME VRID VIPS MASTER NODES AGE; virtualserver: NAME VIP PORT PROTOCOL SCHEDULER MASTER READY AGE
  return {
    instance: column(/^vrrpinstance\.kubelived\.io\/web +\d+ /, 3),
    server: column(/^virtualserver\.kubelived\.io\/web +[\d.]+ /, 5),
  };
}

test('the demo shows n1 as MASTER, the new master after the SIGKILL within 2 s, and n1 after its restart', async () => {
  const run = startDemo();
  const { code, signal } = await run.exit;
  assert.equal(code, 0, `exit ${code ?? signal}:\n${run.output}`);

  const masters = mastersShown(run.output);
  assert.equal(masters.instance.length, 3, run.output);
  const [before, after, restarted] = masters.instance;
  assert.equal(before, 'n1');
  assert.ok(after === 'n2' || after === 'n3', `MASTER after the kill: ${after}`);
  assert.equal(restarted, 'n1');
  assert.deepEqual(masters.server, masters.instance, 'the VirtualServer follows its instance');

  const seen = /\+(\d+\.\d+) s {2}kubectl get vrrpinstance web: MASTER (n\d)/.exec(run.output);
  assert.ok(seen, run.output);
  assert.equal(seen[2], after);
  assert.ok(Number(seen[1]) <= 2, `status named the new master ${seen[1]} s after the kill`);

  // The client: n1 answered before, the new master after; the loss is counted.
  assert.match(run.output, /\$ curl http:\/\/198\.18\.0\.100:8080\/: hello from n1/);
  assert.match(run.output, new RegExp(`curl: n1 ×\\d+, then ${after} ×\\d+`));
  assert.match(run.output, /ping: \d+ echo requests, \d+ lost/);
  assert.match(run.output, /this kernel has no IPVS|IPVS balances/);
  assert.match(run.output, /✓ agents and controller \(SIGTERM\), kube-apiserver and etcd, namespaces/);
  await assertNothingLeft(run);
});

for (const [when, line] of [['while the agents start', '==> the agents'], ['during the failover', '==> failover']] as const) {
  test(`Ctrl-C ${when} tears everything down`, async () => {
    const run = startDemo();
    await run.waitForOutput(line, RUN_TIMEOUT_MS);
    process.kill(run.pid, 'SIGINT');
    const { code } = await run.exit;
    assert.equal(code, 130, run.output);
    assert.match(run.output, /SIGINT: tearing everything down/);
    await assertNothingLeft(run);
  });
}
