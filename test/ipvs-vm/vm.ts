// A throw-away VM with a real IPVS kernel, for the test tier test/ipvs-vm (README.md beside this
// file). The host kernel has no IP_VS; the guest runs Debian's stock kernel under qemu, sees the
// host's root file system read-only through 9p under a tmpfs overlay (so it runs the host's Node,
// ipvsadm, iproute2 and this project tree without copying anything), and serves commands over a
// virtio-serial port. It has no network device: traffic stays on loopback, veth and dummy
// interfaces inside it.
//
//   const vm = await bootVm();                       // ~3-6 s with TCG once the kernel is cached
//   const r = await vm.exec(['ipvsadm', '-Ln']);     // { stdout, stderr, code }
//   await vm.shutdown();
//
// or, in a node:test file, `const vm = useVm();` at top level and `vm().exec(...)` in tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { buildInitramfs } from './initramfs.ts';
import { cacheRoot, checkHostTools, prepareKernel, requireTool, VmSetupError, type GuestKernel } from './kernel.ts';
import type { GuestMessage, HostMessage } from './protocol.ts';

export { VmSetupError } from './kernel.ts';

export interface ExecOptions {
  /** The guest SIGKILLs the command (its whole process group) after this long; default 60 s, 0: never. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed (default: empty stdin). */
  input?: string | Buffer;
  /** Merged over the guest's environment (PATH starts with the project's node_modules/.bin). */
  env?: Record<string, string>;
  /** Default: the project root (the same path as on the host). */
  cwd?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; 128 + signal number when a signal ended the command. */
  code: number;
  /** The signal that ended the command, if one did. */
  signal?: string;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Default 0: runs until it exits, is killed, or the VM shuts down. */
  timeoutMs?: number;
  /** Keep stdin open for write()/end(); default: stdin is closed at once. */
  stdin?: boolean;
}

/** A long-running command in the guest (a server, the agent, tcpdump). */
export interface VmProcess {
  readonly argv: string[];
  /** The guest PID; rejects when the command cannot start. */
  readonly started: Promise<number>;
  /** Resolves when it has exited (never rejects for a non-zero exit; see `timedOut`). */
  readonly exited: Promise<ExecResult & { timedOut: boolean }>;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  readonly running: boolean;
  /** Resolves with the first line of stdout or stderr (already seen, or to come) matching re. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  write(data: string | Buffer): void;
  end(): void;
  /** Signal the command's process group (default SIGTERM). */
  kill(signal?: NodeJS.Signals): void;
}

export interface Vm {
  /**
   * Run argv (or `sh -c` a string) in the guest to completion. Resolves with the exit code,
   * whatever it is; rejects (VmExecError) on a timeout, when the command cannot start, or when
   * the VM dies.
   */
  exec(argv: string[] | string, opts?: ExecOptions): Promise<ExecResult>;
  /** exec() that resolves with stdout and rejects (VmExecError, with stderr) on a non-zero exit. */
  run(argv: string[] | string, opts?: ExecOptions): Promise<string>;
  /** Start a command without waiting for it. */
  spawn(argv: string[] | string, opts?: SpawnOptions): VmProcess;
  /** `uname -r` of the guest, e.g. 6.1.0-56-amd64. */
  kernelRelease: string;
  /**
   * Guest/host time of the same JavaScript work on the same Node binary (calibrate.ts), about
   * 13-15 under TCG. Set by measureSlowdown(), or at boot with bootVm({ calibrate: true }).
   */
  slowdown?: number;
  /** Measure `slowdown` now (a few seconds: the guest's V8 takes long to optimise). */
  measureSlowdown(): Promise<number>;
  /** Milliseconds from starting qemu to the runner's first message. */
  bootMs: number;
  /** Guest uptimes (s) when the command runner started and when it was ready. */
  bootPhases: { runnerStartUptime: number; readyUptime: number };
  accel: 'kvm' | 'tcg';
  kernel: GuestKernel;
  /**
   * A host directory the guest sees read-write at the same path: the way to hand files in and
   * out (the host root is visible read-only too, but through a cache: changes the host makes
   * while the VM runs may not show).
   */
  shareDir: string;
  /** The serial console (kernel messages, the runner's own errors), the last lines of it. */
  consoleTail(): string;
  /** Idempotent; stops the VM (SIGKILL if it does not power off in time) and removes its files. */
  shutdown(): Promise<void>;
}

export interface BootOptions {
  memoryMiB?: number;
  cpus?: number;
  /** Give up booting after this long (default 180 s with TCG, 30 s with KVM before falling back). */
  bootTimeoutMs?: number;
  /** Measure vm.slowdown as part of the boot (default false: it adds a few seconds). */
  calibrate?: boolean;
  /**
   * The Debian kernel: a metapackage or a kernel package. Default $KUBELIVED_VM_KERNEL_PACKAGE,
   * else linux-image-amd64 (6.1 on Debian 12, which lacks the twos scheduler:
   * 'linux-image-6.12-amd64' has it).
   */
  kernel?: string;
}

export class VmExecError extends Error {
  readonly argv: string[];
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | undefined;
  readonly timedOut: boolean;
  constructor(argv: string[], why: string, r: { stdout: string; stderr: string; code?: number; timedOut?: boolean }) {
    const tail = r.stderr.trim().slice(-2000);
    super(`vm: ${argv.join(' ')}: ${why}${tail ? `\n--- stderr ---\n${tail}` : ''}`);
    this.name = 'VmExecError';
    this.argv = argv;
    this.stdout = r.stdout;
    this.stderr = r.stderr;
    this.code = r.code;
    this.timedOut = r.timedOut ?? false;
  }
}

const HARNESS_DIR = import.meta.dirname;
export const PROJECT_ROOT = resolve(HARNESS_DIR, '..', '..');
const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
const CONSOLE_LINES = 300;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

// ---------------------------------------------------------------------------------------------
// Acceleration: KVM only when the CPU advertises vmx/svm, /dev/kvm opens, and a boot under it
// succeeds (this workplace's /dev/kvm runs only PVM guests: a plain KVM guest hangs). Otherwise
// TCG. KUBELIVED_VM_ACCEL=tcg|kvm forces one.

let kvmVerdict: boolean | undefined;

// A failed KVM probe costs its boot timeout: remember the verdict for this host boot, so later
// test processes go straight to TCG.
function verdictFile(): string {
  return join(cacheRoot(), 'kvm-verdict.json');
}
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
function savedVerdict(): boolean | undefined {
  try {
    const v = JSON.parse(readFileSync(verdictFile(), 'utf8')) as { bootId: string; kvm: boolean };
    return v.bootId === bootId() ? v.kvm : undefined;
  } catch {
    return undefined;
  }
}
function saveVerdict(kvm: boolean): void {
  kvmVerdict = kvm;
  try {
    mkdirSync(cacheRoot(), { recursive: true });
    writeFileSync(verdictFile(), JSON.stringify({ bootId: bootId(), kvm }) + '\n');
  } catch {
    /* only an optimisation */
  }
}

function kvmPlausible(): boolean {
  const forced = process.env.KUBELIVED_VM_ACCEL;
  if (forced === 'tcg') return false;
  if (forced === 'kvm') return true;
  if (forced) throw new VmSetupError(`KUBELIVED_VM_ACCEL=${forced}: expected tcg or kvm`);
  kvmVerdict ??= savedVerdict();
  if (kvmVerdict !== undefined) return kvmVerdict;
  try {
    if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'))) return (kvmVerdict = false);
    closeSync(openSync('/dev/kvm', 'r+'));
    return true; // the boot itself is the probe
  } catch {
    return (kvmVerdict = false);
  }
}

// The calibration runs in a fresh Node process on both sides, the same script and limits.
const CALIBRATE_MAX_MS = 5000;
const calibrateScript = (): string =>
  `import(${JSON.stringify(join(HARNESS_DIR, 'calibrate.ts'))}).then((m) => console.log(m.calibrate(${CALIBRATE_MAX_MS})))`;
let hostCalibrateMs: number | undefined;
function hostCalibration(node: string): number {
  if (hostCalibrateMs === undefined) {
    const r = spawnSync(node, ['-e', calibrateScript()], { encoding: 'utf8', timeout: CALIBRATE_MAX_MS + 10_000 });
    const ms = Number(r.stdout.trim());
    if (r.status !== 0 || !(ms > 0)) throw new Error(`host calibration failed: ${r.stderr || r.error?.message}`);
    hostCalibrateMs = ms;
  }
  return hostCalibrateMs;
}

// ---------------------------------------------------------------------------------------------
// Exit hooks: a VM never outlives its test process. Process exit (uncaught exceptions included)
// and SIGINT / SIGTERM / SIGHUP SIGKILL every live qemu by PID and remove its directory. A
// SIGKILLed test process cannot clean up: its qemu notices (the runner reads EOF on the closed
// control socket and powers off), and the next boot removes directories of dead owners.

const liveVms = new Set<VmImpl>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooksInstalled = false;

function onExit(): void {
  for (const vm of [...liveVms]) vm.destroySync();
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  uninstallHooks();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', onExit);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', onExit);
  for (const s of SIGNALS) process.off(s, onSignal);
}

const TMP_PREFIX = 'klvm-';

function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Remove the directories (and SIGKILL the qemu, if still running) of VMs whose owner died. */
export function sweepStaleVms(): string[] {
  const swept: string[] = [];
  for (const e of readdirSync('/tmp')) {
    const m = /^klvm-(\d+)-/.exec(e);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || pidAlive(owner)) continue;
    const dir = join('/tmp', e);
    try {
      const qpid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8').trim());
      // Only a qemu whose command line names this directory: PIDs get reused.
      if (qpid > 0 && readFileSync(`/proc/${qpid}/cmdline`, 'utf8').includes(dir)) process.kill(qpid, 'SIGKILL');
    } catch {
      /* no pid file, or no such process */
    }
    rmSync(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

// ---------------------------------------------------------------------------------------------

interface Pending {
  proc: VmProcessImpl;
}

class VmProcessImpl implements VmProcess {
  readonly argv: string[];
  readonly started: Promise<number>;
  readonly exited: Promise<ExecResult & { timedOut: boolean }>;
  private out: Buffer[] = [];
  private err: Buffer[] = [];
  private lineWaiters = new Set<(line: string) => void>();
  private partial = { 1: '', 2: '' };
  private lines: string[] = [];
  private done = false;
  private resolveStarted!: (pid: number) => void;
  private rejectStarted!: (e: Error) => void;
  private resolveExited!: (r: ExecResult & { timedOut: boolean }) => void;
  private rejectExited!: (e: Error) => void;
  private readonly vm: VmImpl;
  readonly id: number;

  constructor(vm: VmImpl, id: number, argv: string[]) {
    this.vm = vm;
    this.id = id;
    this.argv = argv;
    this.started = new Promise((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.exited = new Promise((res, rej) => {
      this.resolveExited = res;
      this.rejectExited = rej;
    });
    // Callers may only ever await one of the two: never an unhandled rejection from the other.
    this.started.catch(() => {});
    this.exited.catch(() => {});
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }
  get stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }
  get running(): boolean {
    return !this.done;
  }

  onStarted(pid: number): void {
    this.resolveStarted(pid);
  }

  onOutput(fd: 1 | 2, data: Buffer): void {
    (fd === 1 ? this.out : this.err).push(data);
    const text = this.partial[fd] + data.toString('utf8');
    const parts = text.split('\n');
    this.partial[fd] = parts.pop() ?? '';
    for (const l of parts) this.addLine(l);
  }

  private addLine(l: string): void {
    this.lines.push(l);
    for (const w of [...this.lineWaiters]) w(l);
  }

  onExit(code: number | null, signal: string | null, timedOut: boolean): void {
    if (this.done) return;
    this.done = true;
    for (const fd of [1, 2] as const) if (this.partial[fd]) this.addLine(this.partial[fd]);
    const c = code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0);
    this.resolveExited({ stdout: this.stdout, stderr: this.stderr, code: c, ...(signal ? { signal } : {}), timedOut });
    for (const w of [...this.lineWaiters]) w('');
  }

  onFail(e: Error): void {
    if (this.done) return;
    this.done = true;
    this.rejectStarted(e);
    this.rejectExited(e);
    for (const w of [...this.lineWaiters]) w('');
  }

  waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.lineWaiters.delete(w);
        rej(new VmExecError(this.argv, `no line matching ${re} within ${timeoutMs} ms`, { stdout: this.stdout, stderr: this.stderr }));
      }, timeoutMs);
      const w = (l: string): void => {
        if (re.test(l)) {
          clearTimeout(timer);
          this.lineWaiters.delete(w);
          res(l);
        } else if (this.done) {
          clearTimeout(timer);
          this.lineWaiters.delete(w);
          rej(new VmExecError(this.argv, `exited before printing a line matching ${re}`, { stdout: this.stdout, stderr: this.stderr }));
        }
      };
      this.lineWaiters.add(w);
    });
  }

  write(data: string | Buffer): void {
    this.vm.send({ t: 'stdin', id: this.id, data: Buffer.from(data).toString('base64') });
  }
  end(): void {
    this.vm.send({ t: 'stdin-end', id: this.id });
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.done) this.vm.send({ t: 'kill', id: this.id, signal });
  }
}

class VmImpl implements Vm {
  kernelRelease = '';
  slowdown?: number;
  bootMs = 0;
  bootPhases = { runnerStartUptime: 0, readyUptime: 0 };
  private readonly node: string;
  readonly accel: 'kvm' | 'tcg';
  readonly kernel: GuestKernel;
  readonly shareDir: string;
  readonly dir: string;
  private readonly qemu: ChildProcess;
  private readonly qemuPid: number;
  private sock: Socket | undefined;
  private readonly console: string[] = [];
  private consolePartial = '';
  private nextId = 1;
  private readonly procs = new Map<number, Pending>();
  private qemuExited = false;
  private readonly qemuExit: Promise<void>;
  private shuttingDown: Promise<void> | undefined;
  private dead: string | undefined;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  readonly ready: Promise<void>;
  private readonly t0 = Date.now();

  constructor(kernel: GuestKernel, accel: 'kvm' | 'tcg', opts: Required<Pick<BootOptions, 'memoryMiB' | 'cpus'>>) {
    this.kernel = kernel;
    this.accel = accel;
    this.ready = new Promise((res, rej) => {
      this.readyResolve = res;
      this.readyReject = rej;
    });
    this.ready.catch(() => {});

    const qemuBin = requireTool('qemu-system-x86_64');
    const busybox = '/bin/busybox';
    if (!existsSync(busybox)) throw new VmSetupError(`${busybox} not found: apt-get install busybox-static`);
    const nodeLink = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
    if (!existsSync(nodeLink)) throw new VmSetupError(`${nodeLink} not found: run npm ci (the guest runs the project's Node 24)`);
    const node = realpathSync(nodeLink);
    this.node = node;

    // Short path: the control socket's path must fit in sun_path (108 bytes).
    this.dir = join('/tmp', `${TMP_PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(this.dir, { mode: 0o700 });
    liveVms.add(this);
    installHooks();
    this.shareDir = join(this.dir, 'share');
    mkdirSync(this.shareDir);
    const sockPath = join(this.dir, 'ctl.sock');
    const initrd = join(this.dir, 'initramfs.cpio');
    const params: Record<string, string> = {
      klvm_project: PROJECT_ROOT,
      klvm_node: node,
      klvm_busybox: busybox,
      klvm_modules: kernel.modulesDir,
      klvm_share: this.shareDir,
      klvm_runner: join(this.shareDir, '.klvm', 'runner.mjs'),
    };
    try {
      for (const [k, v] of Object.entries(params))
        if (/[\s"']/.test(v)) throw new VmSetupError(`${k}=${v}: paths with spaces or quotes cannot go on the kernel command line`);
      buildInitramfs(initrd, { busybox, modulesDir: kernel.modulesDir, initScript: join(HARNESS_DIR, 'guest', 'init.sh') });
      prepareRunner(node, join(this.shareDir, '.klvm'));
    } catch (e) {
      this.removeDir();
      throw e;
    }
    const append = [
      'console=ttyS0',
      ...(process.env.KUBELIVED_VM_DEBUG === '1' ? [] : ['quiet']),
      'loglevel=4',
      'panic=-1',
      'oops=panic',
      'rdinit=/init',
      'mitigations=off',
      ...Object.entries(params).map(([k, v]) => `${k}=${v}`),
    ].join(' ');

    const args = [
      '-name', `kubelived-vm,process=klvm-${process.pid}`,
      '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
      '-machine', 'pc',
      ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
      '-smp', String(opts.cpus), '-m', String(opts.memoryMiB),
      '-no-reboot',
      '-nic', 'none',
      '-kernel', kernel.image, '-initrd', initrd, '-append', append,
      '-fsdev', 'local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap',
      '-device', 'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
      '-fsdev', `local,id=klshare,path=${this.shareDir},security_model=none,multidevs=remap`,
      '-device', 'virtio-9p-pci,fsdev=klshare,mount_tag=klshare',
      '-device', 'virtio-serial-pci',
      '-chardev', `socket,id=ctl,path=${sockPath},server=on,wait=on`,
      '-device', 'virtserialport,chardev=ctl,name=kubelived.0',
      '-pidfile', join(this.dir, 'qemu.pid'),
    ];
    this.qemu = spawn(qemuBin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (this.qemu.pid === undefined) {
      this.removeDir();
      throw new VmSetupError(`cannot start ${qemuBin}`);
    }
    this.qemuPid = this.qemu.pid;
    this.qemu.on('error', (e) => this.died(`qemu: ${e.message}`));
    const debug = process.env.KUBELIVED_VM_DEBUG === '1';
    const onConsole = (d: Buffer): void => {
      if (debug) process.stderr.write(d.toString('utf8').replace(/^(?=.)/gm, `[+${Date.now() - this.t0} ms] `));
      const parts = (this.consolePartial + d.toString('utf8')).split('\n');
      this.consolePartial = parts.pop() ?? '';
      // (qemu's note that it waits for our connection is expected: not worth a console line)
      this.console.push(...parts.map((l) => l.replace(/\r$/, '')).filter((l) => !/QEMU waiting for connection/.test(l)));
      if (this.console.length > CONSOLE_LINES) this.console.splice(0, this.console.length - CONSOLE_LINES);
    };
    this.qemu.stdout?.on('data', onConsole);
    this.qemu.stderr?.on('data', onConsole);
    this.qemu.stdin?.on('error', () => {});
    this.qemuExit = new Promise((res) => {
      this.qemu.on('exit', (code, signal) => {
        this.qemuExited = true;
        this.died(`qemu exited (${signal ?? `code ${code}`})`);
        res();
      });
    });
    this.connect(sockPath);
  }

  private connect(sockPath: string): void {
    // qemu creates the socket, then waits (wait=on) for us before it starts the guest.
    const deadline = Date.now() + 20_000;
    const attempt = (): void => {
      if (this.qemuExited) return;
      if (!existsSync(sockPath)) {
        if (Date.now() > deadline) this.died(`qemu did not create ${sockPath} within 20 s`);
        else setTimeout(attempt, 10);
        return;
      }
      const s = connect(sockPath);
      s.once('connect', () => {
        this.sock = s;
        this.readChannel(s);
      });
      s.once('error', (e) => {
        if (this.sock !== s) {
          if (Date.now() > deadline) this.died(`cannot connect to ${sockPath}: ${e.message}`);
          else setTimeout(attempt, 20);
        } else this.died(`control channel: ${e.message}`);
      });
    };
    attempt();
  }

  private readChannel(s: Socket): void {
    let buffered = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        let m: GuestMessage;
        try {
          m = JSON.parse(line) as GuestMessage;
        } catch {
          this.console.push(`[host] bad message from the guest: ${line.slice(0, 200)}`);
          continue;
        }
        this.onMessage(m);
      }
    });
    s.on('close', () => this.died('the control channel closed'));
  }

  private onMessage(m: GuestMessage): void {
    switch (m.t) {
      case 'ready': {
        this.kernelRelease = m.kernelRelease;
        this.bootMs = Date.now() - this.t0;
        this.bootPhases = { runnerStartUptime: m.runnerStartUptime, readyUptime: m.uptime };
        this.readyResolve();
        return;
      }
      case 'started':
        this.procs.get(m.id)?.proc.onStarted(m.pid);
        return;
      case 'spawn-error': {
        const p = this.procs.get(m.id);
        this.procs.delete(m.id);
        p?.proc.onFail(new VmExecError(p.proc.argv, `cannot start: ${m.message}`, { stdout: '', stderr: '' }));
        return;
      }
      case 'out':
        this.procs.get(m.id)?.proc.onOutput(m.fd, Buffer.from(m.data, 'base64'));
        return;
      case 'exit': {
        const p = this.procs.get(m.id);
        this.procs.delete(m.id);
        p?.proc.onExit(m.code, m.signal, m.timedOut);
        return;
      }
      case 'log':
        this.console.push(`[guest] ${m.message}`);
        return;
    }
  }

  /** The VM is gone (or unusable): fail everything still waiting, with the console's tail. */
  private died(why: string): void {
    if (this.dead) return;
    this.dead = why;
    const detail = this.shuttingDown ? why : `${why}\n--- console (last lines) ---\n${this.consoleTail()}`;
    this.readyReject(new VmSetupError(`the VM did not come up: ${detail}`));
    for (const [id, p] of this.procs) {
      this.procs.delete(id);
      p.proc.onFail(new VmExecError(p.proc.argv, `the VM went away: ${detail}`, { stdout: p.proc.stdout, stderr: p.proc.stderr }));
    }
    if (!this.qemuExited) {
      try {
        process.kill(this.qemuPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  send(m: HostMessage): void {
    if (this.dead || !this.sock) throw new VmExecError([], `the VM is not running${this.dead ? `: ${this.dead}` : ''}`, { stdout: '', stderr: '' });
    this.sock.write(JSON.stringify(m) + '\n');
  }

  consoleTail(): string {
    return [...this.console, this.consolePartial].filter(Boolean).slice(-60).join('\n');
  }

  spawn(argv: string[] | string, opts: SpawnOptions = {}): VmProcess {
    return this.start(argv, opts.timeoutMs ?? 0, opts.env, opts.cwd, undefined, opts.stdin ?? false);
  }

  private start(argv: string[] | string, timeoutMs: number, env: Record<string, string> | undefined, cwd: string | undefined, input: string | Buffer | undefined, keepStdin: boolean): VmProcessImpl {
    const a = typeof argv === 'string' ? ['sh', '-c', argv] : argv;
    const id = this.nextId++;
    const proc = new VmProcessImpl(this, id, a);
    if (this.dead) {
      proc.onFail(new VmExecError(a, `the VM is not running: ${this.dead}`, { stdout: '', stderr: '' }));
      return proc;
    }
    this.procs.set(id, { proc });
    this.send({
      t: 'spawn',
      id,
      argv: a,
      timeoutMs,
      ...(env ? { env } : {}),
      ...(cwd ? { cwd } : {}),
      ...(input !== undefined ? { input: Buffer.from(input).toString('base64') } : {}),
      ...(keepStdin ? { keepStdin } : {}),
    });
    return proc;
  }

  async exec(argv: string[] | string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
    const proc = this.start(argv, timeoutMs, opts.env, opts.cwd, opts.input ?? '', false);
    // The guest enforces the timeout; this one only catches a guest too wedged to report.
    let timer: NodeJS.Timeout | undefined;
    const wedged = new Promise<never>((_, rej) => {
      if (timeoutMs > 0)
        timer = setTimeout(() => rej(new VmExecError(proc.argv, `no answer from the guest ${timeoutMs + 30_000} ms after start`, { stdout: proc.stdout, stderr: proc.stderr, timedOut: true })), timeoutMs + 30_000);
    });
    try {
      const r = await Promise.race([proc.exited, wedged]);
      if (r.timedOut) throw new VmExecError(proc.argv, `timed out after ${timeoutMs} ms (killed)`, { ...r, timedOut: true });
      return { stdout: r.stdout, stderr: r.stderr, code: r.code, ...(r.signal ? { signal: r.signal } : {}) };
    } finally {
      clearTimeout(timer);
    }
  }

  async measureSlowdown(): Promise<number> {
    const host = hostCalibration(this.node);
    const guest = Number((await this.run([this.node, '-e', calibrateScript()], { timeoutMs: CALIBRATE_MAX_MS + 60_000 })).trim());
    this.slowdown = Math.round((guest / host) * 10) / 10;
    return this.slowdown;
  }

  async run(argv: string[] | string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) throw new VmExecError(typeof argv === 'string' ? ['sh', '-c', argv] : argv, `exit code ${r.code}`, r);
    return r.stdout;
  }

  /** Kill qemu at once (a failed boot) and clean up. */
  async abort(): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.killQemu();
      await this.qemuExit;
      this.sock?.destroy();
      this.removeDir();
    })();
    return this.shuttingDown;
  }

  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      if (!this.dead && this.sock) {
        try {
          this.send({ t: 'shutdown' });
        } catch {
          /* already dead */
        }
      }
      // The guest powers off within a second or two; after that, or if it cannot, SIGKILL.
      const timer = setTimeout(() => this.killQemu(), this.accel === 'tcg' ? 15_000 : 5_000);
      await this.qemuExit;
      clearTimeout(timer);
      this.sock?.destroy();
      this.removeDir();
    })();
    return this.shuttingDown;
  }

  private killQemu(): void {
    if (this.qemuExited) return;
    try {
      process.kill(this.qemuPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  private removeDir(): void {
    rmSync(this.dir, { recursive: true, force: true });
    liveVms.delete(this);
    if (liveVms.size === 0) uninstallHooks();
  }

  /** For exit hooks: no event loop. */
  destroySync(): void {
    this.killQemu();
    this.removeDir();
  }
}

/**
 * The runner as plain JavaScript in dir (the guest sees it: dir is in the share). Node would
 * strip the types itself, but loading its TypeScript stripper (WebAssembly) costs the guest
 * about 1.5 s under TCG; on the host it takes a few milliseconds.
 */
function prepareRunner(node: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const script = `
    const { stripTypeScriptTypes } = require('node:module');
    const { readFileSync, writeFileSync } = require('node:fs');
    writeFileSync(process.argv[2], stripTypeScriptTypes(readFileSync(process.argv[1], 'utf8')));
  `;
  const out = join(dir, 'runner.mjs');
  const r = spawnSync(node, ['--disable-warning=ExperimentalWarning', '-e', script, join(HARNESS_DIR, 'guest', 'runner.ts'), out], { encoding: 'utf8' });
  if (r.status !== 0) throw new VmSetupError(`cannot prepare the guest runner: ${r.stderr || r.error?.message}`);
}

/**
 * Boot a VM and wait until its command runner answers. Rejects with VmSetupError (what to
 * install, or the console's last lines) when something is missing or the guest does not come up.
 */
export async function bootVm(opts: BootOptions = {}): Promise<Vm> {
  checkHostTools();
  sweepStaleVms();
  const kernel = prepareKernel(opts.kernel);
  const sizes = { memoryMiB: opts.memoryMiB ?? 1024, cpus: opts.cpus ?? 2 };
  if (kvmPlausible()) {
    try {
      const vm = await bootOne(kernel, 'kvm', sizes, opts.bootTimeoutMs ?? 30_000, opts.calibrate ?? false);
      saveVerdict(true);
      return vm;
    } catch (e) {
      if (process.env.KUBELIVED_VM_ACCEL === 'kvm') throw e;
      saveVerdict(false); // e.g. a /dev/kvm that runs only PVM guests: TCG from now on
    }
  }
  return bootOne(kernel, 'tcg', sizes, opts.bootTimeoutMs ?? 180_000, opts.calibrate ?? false);
}

async function bootOne(kernel: GuestKernel, accel: 'kvm' | 'tcg', sizes: { memoryMiB: number; cpus: number }, timeoutMs: number, calibrate: boolean): Promise<VmImpl> {
  const vm = new VmImpl(kernel, accel, sizes);
  try {
    await withTimeout(vm.ready, timeoutMs, `${accel} boot`);
    if (calibrate) await vm.measureSlowdown();
  } catch (e) {
    const tail = vm.consoleTail();
    await vm.abort();
    if (e instanceof VmSetupError) throw e;
    throw new VmSetupError(`${(e as Error).message}\n--- console (last lines) ---\n${tail}`);
  }
  return vm;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * node:test helper: one VM for the file, booted in before(), shut down in after(). Call at the
 * top level (or in a describe); use the returned function inside tests.
 */
export function useVm(opts: BootOptions = {}): () => Vm {
  let vm: Vm | undefined;
  before(async () => {
    vm = await bootVm(opts);
  }, { timeout: (opts.bootTimeoutMs ?? 180_000) + 60_000 });
  after(async () => {
    await vm?.shutdown();
  });
  return () => {
    if (!vm) throw new Error('useVm: no VM (used outside a test, or the boot failed: see the before hook)');
    return vm;
  };
}
