// Real keepalived (Debian's 2.2.7) as a VRRP peer in a lab node: render a keepalived.conf from
// a small description, run it in the node's namespace with its own config and pid files in a
// temp dir (nothing under /run, nothing shared between two keepalived processes), follow its
// state from the log, stop it by PID.
//
// keepalived runs as `ip netns exec NS keepalived --vrrp --dont-fork --log-console
// --log-detail --no-syslog -f CONF -p PID -r VRRP_PID -c CHECKERS_PID`: a parent process and
// one VRRP child (pid in VRRP_PID). Its log goes to stderr ("(VI_1) Entering MASTER STATE").
// SIGTERM: the master sends priority-0 adverts and removes its VIPs, exit takes about 1 s.
// kill(): SIGSTOP then SIGKILL of both processes (a crash: the VIPs stay on the interface).
// Beware: `kill -9` of the parent alone is NOT a crash of keepalived 2.2.7: its VRRP child gets
// a parent-death SIGTERM and shuts down gracefully (priority 0, VIPs removed) about 1 s later.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, LabNode, LabProcess, OutputLine } from './lab.ts';
import { descendants, killPid, pidAlive, sleep } from './run.ts';

export interface VrrpScript {
  name: string;
  /** Command line run by keepalived (as root) in the node's namespace; exit 0 = up. */
  script: string;
  /** Seconds between runs (default 1). */
  interval?: number;
  weight?: number;
  rise?: number;
  fall?: number;
  timeout?: number;
}

export interface KeepalivedInstance {
  /** vrrp_instance name (default VI_1); log lines carry it: "(VI_1) Entering MASTER STATE". */
  name?: string;
  state?: 'BACKUP' | 'MASTER';
  /** Default eth0. */
  interface?: string;
  vrid: number;
  priority: number;
  /** Seconds (v3 accepts hundredths, e.g. 0.1; v2 whole seconds). Default 1. */
  advertInt?: number;
  nopreempt?: boolean;
  /** Seconds. */
  preemptDelay?: number;
  /** VRRPv2 simple password (authentication { auth_type PASS auth_pass ... }). */
  authPass?: string;
  unicastSrcIp?: string;
  /** Non-empty: unicast adverts to these peers instead of multicast. */
  unicastPeers?: string[];
  /** CIDRs, e.g. '198.18.0.100/24', each rendered with `dev <interface>`. */
  vips: string[];
  trackScripts?: { name: string; weight?: number }[];
  garpMasterDelay?: number;
  garpMasterRepeat?: number;
  garpMasterRefresh?: number;
  garpMasterRefreshRepeat?: number;
  /** Raw lines added inside the vrrp_instance block. */
  extra?: string[];
}

export interface KeepalivedConfig {
  /** vrrp_version in global_defs (default 3). */
  version?: 2 | 3;
  routerId?: string;
  instances: KeepalivedInstance[];
  scripts?: VrrpScript[];
  /** Raw lines added inside global_defs. */
  global?: string[];
}

export type KeepalivedState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT' | 'STOP' | (string & {});

export interface Transition {
  /** Date.now() when the line arrived (keepalived's own timestamps have 1 s resolution). */
  t: number;
  instance: string;
  state: KeepalivedState;
  line: string;
}

export interface Keepalived {
  node: LabNode;
  proc: LabProcess;
  /** Temp dir with keepalived.conf, pid files and keepalived.log; removed at lab teardown. */
  dir: string;
  confPath: string;
  conf: string;
  transitions: Transition[];
  /** Current state of an instance (default: the first), from the log. */
  state(instance?: string): KeepalivedState | undefined;
  /**
   * Resolve with the transition into `state`: the current one if the instance is already in it
   * (unless `since` is given: then only a transition at t >= since counts).
   */
  waitForState(state: KeepalivedState, timeoutMs: number, opts?: { instance?: string; since?: number }): Promise<Transition>;
  /** PID of the VRRP child process (from its pid file). */
  vrrpPid(): number | undefined;
  /** Rewrite the config and SIGHUP the parent (keepalived reloads). */
  reload(config: KeepalivedConfig): Promise<void>;
  /** SIGTERM the parent (graceful: priority-0 adverts, VIPs removed); resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL the parent and the VRRP child by PID: a crash, VIPs stay behind. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Extra command-line arguments. */
  args?: string[];
  /** Wait until every instance logged its first state (default true). */
  waitReady?: boolean;
  readyTimeoutMs?: number;
  /** Keep the temp dir after teardown (also: env KL_KEEP_LOGS=1). */
  keepDir?: boolean;
}

const TRANSITION_RE = /\((\S+)\) Entering (\w+) STATE/;

function fmtSeconds(s: number): string {
  return Number.isInteger(s) ? String(s) : s.toFixed(2).replace(/0+$/, '');
}

/** Render a keepalived.conf. */
export function renderKeepalivedConf(cfg: KeepalivedConfig): string {
  const out: string[] = [];
  out.push('global_defs {');
  if (cfg.routerId) out.push(`  router_id ${cfg.routerId}`);
  out.push(`  vrrp_version ${cfg.version ?? 3}`);
  out.push('  script_user root');
  out.push('  enable_script_security');
  for (const l of cfg.global ?? []) out.push(`  ${l}`);
  out.push('}', '');
  for (const s of cfg.scripts ?? []) {
    out.push(`vrrp_script ${s.name} {`);
    out.push(`  script "${s.script.replace(/"/g, '\\"')}"`);
    out.push(`  interval ${fmtSeconds(s.interval ?? 1)}`);
    if (s.weight !== undefined) out.push(`  weight ${s.weight}`);
    if (s.rise !== undefined) out.push(`  rise ${s.rise}`);
    if (s.fall !== undefined) out.push(`  fall ${s.fall}`);
    if (s.timeout !== undefined) out.push(`  timeout ${s.timeout}`);
    out.push('}', '');
  }
  for (const [i, inst] of cfg.instances.entries()) {
    const dev = inst.interface ?? 'eth0';
    out.push(`vrrp_instance ${inst.name ?? `VI_${i + 1}`} {`);
    out.push(`  state ${inst.state ?? 'BACKUP'}`);
    out.push(`  interface ${dev}`);
    out.push(`  virtual_router_id ${inst.vrid}`);
    out.push(`  priority ${inst.priority}`);
    out.push(`  advert_int ${fmtSeconds(inst.advertInt ?? 1)}`);
    if (inst.nopreempt) out.push('  nopreempt');
    if (inst.preemptDelay !== undefined) out.push(`  preempt_delay ${fmtSeconds(inst.preemptDelay)}`);
    if (inst.authPass !== undefined) out.push('  authentication {', '    auth_type PASS', `    auth_pass ${inst.authPass}`, '  }');
    if (inst.unicastSrcIp) out.push(`  unicast_src_ip ${inst.unicastSrcIp}`);
    if (inst.unicastPeers?.length) out.push('  unicast_peer {', ...inst.unicastPeers.map((p) => `    ${p}`), '  }');
    if (inst.garpMasterDelay !== undefined) out.push(`  garp_master_delay ${inst.garpMasterDelay}`);
    if (inst.garpMasterRepeat !== undefined) out.push(`  garp_master_repeat ${inst.garpMasterRepeat}`);
    if (inst.garpMasterRefresh !== undefined) out.push(`  garp_master_refresh ${inst.garpMasterRefresh}`);
    if (inst.garpMasterRefreshRepeat !== undefined) out.push(`  garp_master_refresh_repeat ${inst.garpMasterRefreshRepeat}`);
    out.push('  virtual_ipaddress {', ...inst.vips.map((v) => `    ${v} dev ${dev}`), '  }');
    if (inst.trackScripts?.length)
      out.push('  track_script {', ...inst.trackScripts.map((t) => `    ${t.name}${t.weight !== undefined ? ` weight ${t.weight}` : ''}`), '  }');
    for (const l of inst.extra ?? []) out.push(`  ${l}`);
    out.push('}', '');
  }
  return out.join('\n');
}

/** Start keepalived in node's namespace. Stopped (SIGKILL) and its temp dir removed at lab teardown. */
export async function startKeepalived(lab: Lab, node: LabNode, config: KeepalivedConfig, opts: StartOptions = {}): Promise<Keepalived> {
  const dir = mkdtempSync(join(tmpdir(), `kl-keepalived-${node.netns}-`));
  const confPath = join(dir, 'keepalived.conf');
  const pidFile = join(dir, 'keepalived.pid');
  const vrrpPidFile = join(dir, 'vrrp.pid');
  let conf = renderKeepalivedConf(config);
  writeFileSync(confPath, conf);
  const argv = [
    'keepalived',
    '--vrrp',
    '--dont-fork',
    '--log-console',
    '--log-detail',
    '--no-syslog',
    '--use-file',
    confPath,
    '--pid',
    pidFile,
    '--vrrp_pid',
    vrrpPidFile,
    '--checkers_pid',
    join(dir, 'checkers.pid'),
    '--bfd_pid',
    join(dir, 'bfd.pid'),
    ...(opts.args ?? []),
  ];
  const proc = lab.spawn(node.netns, argv, { logFile: join(dir, 'keepalived.log') });
  const transitions: Transition[] = [];
  const current = new Map<string, KeepalivedState>();
  const waiters = new Set<(tr: Transition) => void>();
  const onLine = (l: OutputLine): void => {
    const m = TRANSITION_RE.exec(l.line);
    if (!m) return;
    const tr: Transition = { t: l.t, instance: m[1] as string, state: m[2] as string, line: l.line };
    transitions.push(tr);
    current.set(tr.instance, tr.state);
    for (const w of [...waiters]) w(tr);
  };
  for (const l of proc.output) onLine(l);
  proc.onLine(onLine);
  const names = config.instances.map((inst, i) => inst.name ?? `VI_${i + 1}`);
  let vrrpPid: number | undefined;
  const readVrrpPid = (): number | undefined => {
    if (vrrpPid !== undefined) return vrrpPid;
    try {
      const n = Number(readFileSync(vrrpPidFile, 'utf8').trim());
      if (n > 0) vrrpPid = n;
    } catch {
      /* not written yet */
    }
    return vrrpPid;
  };

  // A crash of keepalived is a SIGKILL of both processes, with no chance to act in between:
  // the VRRP child has a parent-death signal (SIGTERM) and on it shuts down gracefully
  // (priority-0 advert, VIPs removed), and a parent that sees its child die respawns it. So all
  // are SIGSTOPped first, then SIGKILLed. Children come from the pid file and /proc (the pid
  // file may not exist yet when start did not wait).
  const killSync = (): number[] => {
    const pids = new Set<number>();
    if (proc.running && proc.pid > 0) killPid(proc.pid, 'SIGSTOP');
    const child = readVrrpPid();
    if (child !== undefined) pids.add(child);
    if (proc.running && proc.pid > 0) for (const p of descendants(proc.pid)) pids.add(p);
    for (const p of pids) killPid(p, 'SIGSTOP');
    proc.signal('SIGKILL');
    for (const p of pids) killPid(p, 'SIGKILL');
    return [...pids];
  };
  const killAll = async (): Promise<void> => {
    const pids = killSync();
    await proc.exited;
    for (let i = 0; i < 100 && pids.some((p) => pidAlive(p)); i++) await sleep(10);
  };

  const ka: Keepalived = {
    node,
    proc,
    dir,
    confPath,
    get conf() {
      return conf;
    },
    transitions,
    state: (instance) => current.get(instance ?? names[0] ?? 'VI_1'),
    waitForState(state, timeoutMs, o = {}) {
      const instance: string = o.instance ?? names[0] ?? 'VI_1';
      const matches = (tr: Transition): boolean => tr.instance === instance && tr.state === state && (o.since === undefined || tr.t >= o.since);
      const last = [...transitions].reverse().find((tr) => tr.instance === instance);
      if (last && matches(last)) return Promise.resolve(last);
      if (o.since !== undefined) {
        const seen = transitions.find(matches);
        if (seen) return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${node.name} keepalived: ${instance} not ${state} within ${timeoutMs} ms (now ${current.get(instance) ?? 'unknown'})`));
        }, timeoutMs);
        const w = (tr: Transition): void => {
          if (!matches(tr)) return;
          clearTimeout(timer);
          waiters.delete(w);
          resolve(tr);
        };
        waiters.add(w);
      });
    },
    vrrpPid: readVrrpPid,
    async reload(newConfig) {
      conf = renderKeepalivedConf(newConfig);
      writeFileSync(confPath, conf);
      const from = proc.mark();
      proc.signal('SIGHUP');
      await proc.waitForLine(/Reloading|reload/i, 5000, from).catch(() => undefined);
    },
    async stop(graceMs = 5000) {
      readVrrpPid();
      await proc.stop(graceMs);
      const child = vrrpPid;
      for (let i = 0; i < 200 && child !== undefined && pidAlive(child); i++) await sleep(10);
      if (child !== undefined && pidAlive(child)) killPid(child, 'SIGKILL');
    },
    kill: killAll,
  };

  lab.onTeardown(async () => {
    // Synchronous up to the await, so exit hooks (which cannot wait) still kill and clean up.
    killSync();
    if (!opts.keepDir && !process.env.KL_KEEP_LOGS) rmSync(dir, { recursive: true, force: true });
    await proc.exited;
  });

  if (opts.waitReady ?? true) {
    const timeoutMs = opts.readyTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    while (!names.every((n) => current.has(n))) {
      if (!proc.running) throw new Error(`keepalived on ${node.name} exited during startup:\n${proc.output.map((l) => `  ${l.line}`).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`keepalived on ${node.name}: no initial state within ${timeoutMs} ms:\n${proc.output.map((l) => `  ${l.line}`).join('\n')}`);
      await sleep(20);
    }
    readVrrpPid();
  }
  return ka;
}
