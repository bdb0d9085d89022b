// Small process helpers for the lab: run a command to completion (async or sync) with a
// timeout, and read a process's state from /proc. Nothing here knows about namespaces.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  /** Resolve (instead of rejecting) when the command exits non-zero. */
  allowFail?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class CommandError extends Error {
  readonly argv: string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  constructor(argv: string[], code: number, stdout: string, stderr: string, why: string) {
    super(`${argv.join(' ')}: ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.name = 'CommandError';
    this.argv = argv;
    this.code = code;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

/** Hooks so a caller (the lab) can track every child it starts, by PID. */
export interface ChildTracker {
  started(pid: number): void;
  ended(pid: number): void;
}

/**
 * Run argv to completion. Rejects with a CommandError carrying stderr on a non-zero exit
 * (unless allowFail), on a timeout (the child is SIGKILLed by PID), or if it cannot start.
 */
export function run(argv: string[], opts: RunOptions = {}, tracker?: ChildTracker): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty argv'));
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = child.pid;
    if (pid !== undefined) tracker?.started(pid);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) killPid(pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      if (pid !== undefined) tracker?.ended(pid);
      reject(new CommandError(argv, -1, stdout, stderr, `cannot run: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (pid !== undefined) tracker?.ended(pid);
      const c = code ?? -1;
      if (timedOut) reject(new CommandError(argv, c, stdout, stderr, `timed out after ${timeoutMs} ms`));
      else if (c !== 0 && !opts.allowFail)
        reject(new CommandError(argv, c, stdout, stderr, signal ? `killed by ${signal}` : `exit code ${c}`));
      else resolve({ stdout, stderr, code: c });
    });
    child.stdin.on('error', () => {
      /* the child may exit before reading its input; the exit code tells the story */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Synchronous variant for exit hooks, where the event loop no longer runs. Never throws. */
export function runSync(argv: string[], input?: string, timeoutMs = 5_000): RunResult {
  const [file, ...args] = argv;
  if (file === undefined) return { stdout: '', stderr: 'empty argv', code: -1 };
  const r = spawnSync(file, args, { input: input ?? '', encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? r.error.message : ''), code: r.status ?? -1 };
}

/** Send a signal to one PID; false when it no longer exists. */
export function killPid(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** True while pid exists and is not a zombie (zombies are not reaped while a sync hook runs). */
export function pidAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // "pid (comm) S ..." where comm may contain spaces and parentheses: the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X' && state !== '';
}

/** Busy-free synchronous sleep for exit hooks. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** PIDs of pid's descendants (children, grandchildren, ...), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(e), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift() as number;
    for (const [c, pp] of parentOf)
      if (pp === p) {
        out.push(c);
        queue.push(c);
      }
  }
  return out;
}
