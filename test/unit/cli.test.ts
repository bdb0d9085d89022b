// The built CLI (dist/cli/main.js: `npm run build` first; npm test builds before this tier) with
// a native addon that cannot load (KUBELIVED_NATIVE_PATH naming no file): only the agent needs
// the addon, so `version` and the controller work, and `self-check` reports the addon failed
// instead of crashing. The controller's API server is a loopback port nobody listens on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../lab/wait.ts';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let scratch = '';
let brokenEnv: NodeJS.ProcessEnv = {};

before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  scratch = mkdtempSync(join(tmpdir(), 'kl-cli-'));
  brokenEnv = { ...process.env, KUBELIVED_NATIVE_PATH: join(scratch, 'no-such-addon.node') };
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: brokenEnv, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A loopback port free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

test('version works without the addon', () => {
  const r = cli(['version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^kubelived \d+\.\d+\.\d+ \(node v24\./);
});

test('self-check reports the addon failed, on one line, and exits 1', () => {
  const r = cli(['self-check']);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, '', 'no crash');
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^(ok|fail) +capabilities: /);
  assert.match(lines[1] ?? '', /^fail native addon: cannot load the kubelived native addon .*no-such-addon\.node .*Cannot find module/);
  assert.equal(lines.length, 2, 'nothing after the addon needs it');
});

test('the controller runs without the addon: it answers /healthz while its API server is unreachable, and SIGTERM stops it', async (t) => {
  const apiPort = await freePort();
  const kubeconfig = join(scratch, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${apiPort}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'unused' } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
  }));
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'controller', '--namespace', 'kubelived-system', '--metrics-addr', `127.0.0.1:${port}`],
    { env: { ...brokenEnv, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  proc.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });

  const status = async (path: string): Promise<number | undefined> => {
    try {
      return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
    } catch {
      return undefined; // not listening yet
    }
  };
  await waitFor('the controller\'s /healthz', async () => (await status('/healthz')) === 200, 15_000, 100);
  assert.equal(await status('/readyz'), 503, 'not ready: nothing listed yet');
  proc.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
  assert.equal(code, 0, output);
  assert.doesNotMatch(output, /native addon/);
  assert.match(output, /ECONNREFUSED/, 'it did try the API server');
});
