// CPU time and resident memory of processes, read from /proc (what `ps` and `top` report).
import { readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU share (of one core) and RSS of a group of processes over a window. */
export async function measure(pids: number[], windowMs: number): Promise<{ cpuPercent: number; rssMiB: number }> {
  const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  const cpu1 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
  const wall = (performance.now() - t0) / 1000;
  return {
    cpuPercent: ((cpu1 - cpu0) / wall) * 100,
    rssMiB: pids.reduce((s, p) => s + rssBytes(p), 0) / 1024 / 1024,
  };
}
