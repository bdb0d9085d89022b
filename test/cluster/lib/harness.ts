// The kubelived-cluster binary (built by test/cluster/build-harness.sh) and its API server as
// a tracked lab process.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../../lab/lab.ts';

export const HARNESS_BIN = new URL('../.bin/kubelived-cluster', import.meta.url).pathname;
export const API_SERVER_PORT = 6443;

// About 3 s on an idle machine; generous for a loaded 2-core one, and beyond the harness's own
// 120 s so that its explanation arrives first.
const READY_TIMEOUT_MS = 150_000;
// kube-apiserver drains its requests and watches, then etcd stops.
const STOP_GRACE_MS = 30_000;
const TAIL_LINES = 20;
const LOG_FILE = 'control-plane.log';

/** The harness binary's path; throws how to build it when it is missing. */
export function harnessBinary(): string {
  if (!existsSync(HARNESS_BIN)) {
    throw new Error(`the cluster test harness ${HARNESS_BIN} is missing: build it with \`bash test/cluster/build-harness.sh\` (needs Go 1.26)`);
  }
  return HARNESS_BIN;
}

function tail(proc: LabProcess): string {
  return proc.output
    .slice(-TAIL_LINES)
    .map((l) => `  ${l.stream}: ${l.line}`)
    .join('\n');
}

/** The end of the full log: a hung start says nothing on stderr, and the dir goes at teardown. */
function logTail(dir: string): string {
  const path = join(dir, LOG_FILE);
  if (!existsSync(path)) return '  (none)';
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  return lines
    .slice(-TAIL_LINES)
    .map((l) => `  ${l}`)
    .join('\n');
}

/** Starts the API server in the lab's client namespace and waits for its readiness line. */
export async function startApiServerProcess(lab: Lab, bin: string, dir: string): Promise<LabProcess> {
  const argv = [bin, 'apiserver', '--dir', dir, '--address', lab.client.ipv4, '--port', String(API_SERVER_PORT)];
  const proc = lab.spawn(lab.client.netns, argv);
  try {
    await proc.waitForLine(/^\{"ready":true/, READY_TIMEOUT_MS, 0);
  } catch {
    const what = proc.running
      ? `not ready within ${READY_TIMEOUT_MS / 1000} s`
      : `exited (${proc.exitSignal ?? `code ${String(await proc.exited)}`}) before it was ready`;
    await proc.stop(1000);
    throw new Error(`kube-apiserver in ${lab.client.netns} ${what}; its stderr:\n${tail(proc)}\nthe end of ${LOG_FILE}:\n${logTail(dir)}`);
  }
  return proc;
}

/** SIGTERM and wait; rejects with the output tail unless it exits 0 (a clean stop). */
export async function stopApiServerProcess(proc: LabProcess): Promise<void> {
  const code = await proc.stop(STOP_GRACE_MS);
  await proc.closed;
  if (code !== 0) {
    const how = code === null ? `killed by ${proc.exitSignal ?? 'a signal'}` : `exit code ${code}`;
    throw new Error(`kube-apiserver did not stop cleanly (${how}); its stderr:\n${tail(proc)}`);
  }
}
