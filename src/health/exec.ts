// Exec probe (keepalived's MISC_CHECK and vrrp_script): exit 0 is a success; any other status,
// a signal or a failure to start is a failure. The command gets its own process group, so an
// abort (timeout or stop) kills helpers it started too, not just the direct child.
import { spawn } from 'node:child_process';
import type { Probe, ProbeOutcome } from './checker.ts';

export interface ExecProbeOptions {
  /** argv; no shell is involved. */
  command: readonly string[];
}

export function execProbe(options: ExecProbeOptions): Probe {
  const [cmd = '', ...args] = options.command;
  return ({ signal, stage }) => new Promise<ProbeOutcome>((resolve) => {
    if (cmd === '') {
      resolve({ ok: false, detail: 'empty command' });
      return;
    }
    stage(`waiting for ${cmd}`);
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    const kill = (): void => {
      if (child.pid === undefined) return;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    };
    const done = (o: ProbeOutcome): void => {
      signal.removeEventListener('abort', kill);
      resolve(o);
    };
    signal.addEventListener('abort', kill, { once: true });
    child.once('error', (e) => done({ ok: false, detail: `cannot run ${cmd}: ${e.message}` }));
    child.once('exit', (code, sig) => {
      if (code === 0) done({ ok: true, detail: 'exit 0' });
      else if (sig) done({ ok: false, detail: `killed by ${sig}` });
      else done({ ok: false, detail: `exit ${code}` });
    });
  });
}
