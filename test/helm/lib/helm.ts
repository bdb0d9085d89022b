// The real helm CLI (test/helm/.bin/helm, built by test/helm/build-helm.sh) for the chart
// tests and scripts/render-manifests.ts, with its config, cache and data directories in a
// temporary directory: nothing from the machine's own helm setup leaks in, nothing leaks out.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../lab/run.ts';
import type { RunResult } from '../../lab/run.ts';

export const HELM_BIN = fileURLToPath(new URL('../.bin/helm', import.meta.url));
export const CHART_DIR = fileURLToPath(new URL('../../../deploy/helm/kubelived', import.meta.url));

const HELM_TIMEOUT_MS = 120_000;

/** The helm binary's path; throws how to build it when it is missing (a setup error, never a skip). */
export function helmBinary(): string {
  if (!existsSync(HELM_BIN)) {
    throw new Error(`helm is missing at ${HELM_BIN}: build it with \`bash test/helm/build-helm.sh\` (needs Go 1.26)`);
  }
  return HELM_BIN;
}

let home: string | undefined;
function helmHome(): string {
  if (home === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'kubelived-helm-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    home = dir;
  }
  return home;
}

/** `env HELM_*=<private dirs> [extra env] helm args...`, for running directly or inside a namespace. */
export function helmArgv(args: string[], env: Record<string, string> = {}): string[] {
  const h = helmHome();
  const vars = {
    HELM_CONFIG_HOME: join(h, 'config'),
    HELM_CACHE_HOME: join(h, 'cache'),
    HELM_DATA_HOME: join(h, 'data'),
    ...env,
  };
  return ['env', ...Object.entries(vars).map(([k, v]) => `${k}=${v}`), helmBinary(), ...args];
}

export interface HelmOptions {
  /** Resolve with the non-zero exit code instead of rejecting. */
  allowFail?: boolean;
  input?: string;
}

/** helm on this machine (no cluster): lint, template, package. */
export function helm(args: string[], opts: HelmOptions = {}): Promise<RunResult> {
  return run(helmArgv(args), { timeoutMs: HELM_TIMEOUT_MS, allowFail: opts.allowFail, input: opts.input });
}
