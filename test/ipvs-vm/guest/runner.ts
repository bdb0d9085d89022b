// The guest's command runner: started by the guest's PID 1 after switch_root (guest/init.sh),
// it serves the host's commands over the virtio-serial port named kubelived.0 (protocol.ts).
//
// Each command runs in a process group of its own (setsid), so a timeout or kill reaches its
// children too. Output is forwarded as it arrives. A command is reported as exited once it has
// exited and its stdout/stderr are closed, or EXIT_DRAIN_MS after its exit if something it left
// running in the background still holds them (`sh -c 'server &'`): what arrived until then is
// reported, the pipes are dropped.
//
// When the host goes away (the port reads EOF) or sends 'shutdown', every command's process
// group is SIGKILLed and the runner exits; PID 1 then powers the VM off.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createReadStream, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { release } from 'node:os';
import type { GuestMessage, HostMessage } from '../protocol.ts';

const startUptime = uptime();
const PORT_NAME = 'kubelived.0';
const EXIT_DRAIN_MS = 1000;

function findPort(): string {
  const dir = '/sys/class/virtio-ports';
  for (const p of readdirSync(dir)) {
    try {
      if (readFileSync(`${dir}/${p}/name`, 'utf8').trim() === PORT_NAME) return `/dev/${p}`;
    } catch {
      /* no name */
    }
  }
  throw new Error(`no virtio port named ${PORT_NAME} in ${dir}`);
}

const portPath = findPort();
// A virtio port can be open only once: one O_RDWR descriptor serves both directions.
const fd = openSync(portPath, 'r+');

function send(m: GuestMessage): void {
  // Synchronous, so messages never interleave or reorder; the host always reads.
  const buf = Buffer.from(JSON.stringify(m) + '\n');
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off);
}

interface Job {
  child: ChildProcess;
  pid: number;
  exit?: { code: number | null; signal: string | null };
  timedOut: boolean;
  timer?: NodeJS.Timeout;
  drainTimer?: NodeJS.Timeout;
  openStreams: number;
  done: boolean;
}

const jobs = new Map<number, Job>();

function killGroup(job: Job, signal: NodeJS.Signals): void {
  try {
    process.kill(-job.pid, signal);
  } catch {
    try {
      job.child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

function finish(id: number, job: Job): void {
  if (job.done || !job.exit) return;
  job.done = true;
  clearTimeout(job.timer);
  clearTimeout(job.drainTimer);
  job.child.stdout?.destroy();
  job.child.stderr?.destroy();
  jobs.delete(id);
  send({ t: 'exit', id, code: job.exit.code, signal: job.exit.signal, timedOut: job.timedOut });
}

function start(m: Extract<HostMessage, { t: 'spawn' }>): void {
  const [file, ...args] = m.argv;
  if (file === undefined) {
    send({ t: 'spawn-error', id: m.id, message: 'empty argv' });
    return;
  }
  let child: ChildProcess;
  try {
    child = spawn(file, args, {
      cwd: m.cwd ?? process.cwd(),
      env: { ...process.env, ...m.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (e) {
    send({ t: 'spawn-error', id: m.id, message: (e as Error).message });
    return;
  }
  child.once('error', (e) => {
    // Spawn failures (ENOENT, EACCES) arrive here, before any 'spawn' event.
    if (child.pid === undefined) send({ t: 'spawn-error', id: m.id, message: e.message });
  });
  if (child.pid === undefined) return; // 'error' follows
  const job: Job = { child, pid: child.pid, timedOut: false, openStreams: 2, done: false };
  jobs.set(m.id, job);
  send({ t: 'started', id: m.id, pid: child.pid });
  for (const [stream, fdNo] of [[child.stdout, 1], [child.stderr, 2]] as const) {
    stream?.on('data', (d: Buffer) => send({ t: 'out', id: m.id, fd: fdNo, data: d.toString('base64') }));
    stream?.on('close', () => {
      job.openStreams--;
      if (job.openStreams === 0) finish(m.id, job);
    });
  }
  child.stdin?.on('error', () => {
    /* the command exited before reading its input */
  });
  if (m.input !== undefined) child.stdin?.end(Buffer.from(m.input, 'base64'));
  else if (!m.keepStdin) child.stdin?.end();
  if (m.timeoutMs > 0)
    job.timer = setTimeout(() => {
      job.timedOut = true;
      killGroup(job, 'SIGKILL');
    }, m.timeoutMs);
  child.once('exit', (code, signal) => {
    job.exit = { code, signal };
    clearTimeout(job.timer);
    if (job.openStreams === 0) finish(m.id, job);
    else job.drainTimer = setTimeout(() => finish(m.id, job), EXIT_DRAIN_MS);
  });
}

function handle(m: HostMessage): void {
  switch (m.t) {
    case 'spawn':
      start(m);
      return;
    case 'stdin':
      jobs.get(m.id)?.child.stdin?.write(Buffer.from(m.data, 'base64'));
      return;
    case 'stdin-end':
      jobs.get(m.id)?.child.stdin?.end();
      return;
    case 'kill': {
      const job = jobs.get(m.id);
      if (job) killGroup(job, m.signal as NodeJS.Signals);
      return;
    }
    case 'shutdown':
      stop(0);
      return;
  }
}

function stop(code: number): never {
  for (const job of jobs.values()) killGroup(job, 'SIGKILL');
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
  process.exit(code);
}

let buffered = '';
const input = createReadStream('', { fd, autoClose: false, highWaterMark: 256 * 1024 });
input.setEncoding('utf8');
input.on('data', (chunk: string | Buffer) => {
  buffered += chunk.toString();
  let nl: number;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line) continue;
    let m: HostMessage;
    try {
      m = JSON.parse(line) as HostMessage;
    } catch {
      send({ t: 'log', message: `runner: malformed message: ${line.slice(0, 200)}` });
      continue;
    }
    handle(m);
  }
});
// EOF: the host closed its end (it exited, or was killed): nothing left to serve.
input.on('end', () => stop(0));
input.on('error', (e) => {
  console.error(`runner: reading ${portPath}: ${e.message}`);
  stop(1);
});

function uptime(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

send({ t: 'ready', kernelRelease: release(), runnerStartUptime: startUptime, uptime: uptime() });
