// The demo's control plane is the cluster tier's test harness (kube-apiserver, etcd and kubectl
// in one Go binary). A fresh clone does not have it: build it with the tier's own script, and
// show how far Go has got, since the first build compiles much of Kubernetes (minutes).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { HARNESS_BIN } from '../../test/cluster/lib/harness.ts';
import type { StepStatus } from './output.ts';

const SCRIPT = new URL('../../test/cluster/build-harness.sh', import.meta.url).pathname;
const TAIL_LINES = 30;
// A Go import path (what `go build -v` prints for each package it compiles).
const PACKAGE_RE = /^[\w.~-]+(\/[\w.~+-]+)*$/;

let building: ChildProcess | undefined;

export function harnessBuilt(): boolean {
  return existsSync(HARNESS_BIN);
}

/** Runs test/cluster/build-harness.sh, reporting Go's module downloads and compiled packages. */
export function buildHarness(status: StepStatus): Promise<void> {
  // -v: go names each package as it compiles it. Its own process group, so that an interrupt
  // stops go and every compiler it runs (stopBuild).
  const env = { ...process.env, GOFLAGS: `${process.env.GOFLAGS ?? ''} -v`.trim() };
  const child = spawn('bash', [SCRIPT], { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env });
  building = child;
  const tail: string[] = [];
  let downloads = 0;
  let packages = 0;
  status.detail('starting go');
  createInterface({ input: child.stderr }).on('line', (line) => {
    const download = /^go: downloading (\S+)/.exec(line);
    if (download) {
      status.detail(`downloading Go modules: ${++downloads} (${download[1] ?? ''})`);
    } else if (PACKAGE_RE.test(line)) {
      status.detail(`${++packages} Go packages compiled (${line})`);
    } else {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      building = undefined;
      if (code === 0) resolve();
      else reject(new Error(`bash test/cluster/build-harness.sh failed (${signal ?? `exit code ${String(code)}`}):\n${tail.join('\n')}`));
    });
  });
}

/** Stops a running build (go and its compilers: the build's process group). */
export function stopBuild(): void {
  if (building?.pid !== undefined) {
    try {
      process.kill(-building.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
