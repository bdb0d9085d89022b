// The demo's failover: SIGKILL to the master's agent while the client pings the VIP and fetches
// a page from it; then when each part of the system noticed, and what the client lost.
import type { AgentProcess } from '../../test/lab/agent.ts';
import type { Lab } from '../../test/lab/lab.ts';
import { startProbe } from '../../test/lab/probe.ts';
import type { ProbeResult } from '../../test/lab/probe.ts';
import { sleep } from '../../test/lab/run.ts';
import { waitFor } from '../../test/lab/wait.ts';
import type { TestCluster } from '../../test/cluster/lib/cluster.ts';
import { say, section, verbatim } from './output.ts';
import { instanceStatus, showTables } from './status.ts';
import type { Example, NodeEntry } from './status.ts';
import { CURL_EVERY_MS, curlLoop, holders, nodeOf, summarizeAnswers } from './traffic.ts';

const PING_EVERY_MS = 10;
/** Traffic before the kill, so the client's view of the old master is on record. */
const BEFORE_MS = 1000;
const TAKEOVER_TIMEOUT_MS = 10_000;

/** A time relative to t0, signed: "+0.28 s". */
function at(t: number, t0: number): string {
  return `${t < t0 ? '-' : '+'}${(Math.abs(t - t0) / 1000).toFixed(2)} s`.padStart(8);
}

/** Kills the master's agent; returns the agent killed. */
export async function failover(cluster: TestCluster, agents: AgentProcess[], ex: Example, url: string): Promise<AgentProcess> {
  const { lab } = cluster;
  const before = (await instanceStatus(cluster, ex.instance)).master;
  const master = agents.find((a) => a.node.name === before);
  if (!master) throw new Error(`vrrpinstance/${ex.instance} names no master among the agents (master: "${before}")`);
  const backups = agents.filter((a) => a !== master);
  section(`failover: SIGKILL to the agent on ${master.node.name}, the MASTER`);
  say(`Meanwhile the client pings ${ex.vip} every ${PING_EVERY_MS} ms and fetches ${url} every ${CURL_EVERY_MS} ms.`);
  const probe = await startProbe(lab, ex.vip, { intervalMs: PING_EVERY_MS });
  const fetches = curlLoop(lab, url);
  await probe.waitForReplyFrom(master.node.mac, TAKEOVER_TIMEOUT_MS, 0);
  await sleep(BEFORE_MS);
  const marks = backups.map((b) => b.proc.mark());
  const t0 = Date.now();
  master.proc.signal('SIGKILL');
  const seen = await waitFor('a new master in status', async () => {
    const s = await instanceStatus(cluster, ex.instance);
    return s.master !== '' && s.master !== master.node.name ? { s, t: Date.now() } : undefined;
  }, TAKEOVER_TIMEOUT_MS, 100);
  const successor = lab.nodes.find((n) => n.name === seen.s.master);
  if (!successor) throw new Error(`vrrpinstance/${ex.instance} names an unknown master ${seen.s.master}`);
  const reply = await probe.waitForReplyFrom(successor.mac, TAKEOVER_TIMEOUT_MS, t0);
  // The killed agent could not remove its VIP: the address lifetime it set ends it.
  await waitFor(`${ex.vip} gone from ${master.node.name}`, async () => !(await holders(lab, ex.vip)).includes(master.node.name), TAKEOVER_TIMEOUT_MS, 50);
  const vipGone = Date.now();
  await sleep(500);
  const [pings, answers] = await Promise.all([probe.stop(), fetches.stop()]);
  const events = [
    { t: t0, text: `SIGKILL to the agent on ${master.node.name}` },
    ...backups.flatMap((b, i) => transitionsSince(b, ex.instance, marks[i] ?? 0)),
    { t: reply.t, text: `the client's first ping reply from ${successor.name}'s MAC ${successor.mac}` },
    { t: seen.t, text: `kubectl get vrrpinstance ${ex.instance}: MASTER ${seen.s.master}` },
    { t: vipGone, text: `${ex.vip} gone from ${master.node.name}: the address lifetime its killed agent had set ran out` },
  ];
  verbatim(events.sort((a, b) => a.t - b.t).map((e) => `${at(e.t, t0)}  ${e.text}`).join('\n'));
  explainTieBreak(lab, seen.s.nodes, seen.s.master, master.node.name);

  const after = await showTables(cluster, ex.instance);
  if (after.nodes.find((e) => e.node === master.node.name)?.state === 'MASTER') {
    say(`${master.node.name}'s entry still says MASTER: its agent died without a word. The controller
      counts an entry only while its node's liveness Lease is fresh (40 s), and of two claims takes
      the newer.`);
  }
  section('what the client saw');
  verbatim(`ping: ${pingSummary(lab, pings, t0)}
curl: ${summarizeAnswers(answers)}`);
  say(`Only the agent died: ${master.node.name}'s kernel kept answering for the VIP until the new
    master's gratuitous ARP moved the client over, so the client lost little or nothing. A machine that crashes falls silent at once: then the client waits for the backups'
    master-down interval, three advertisements and a skew (under 0.4 s with the example's 100 ms).`);
  return master;
}

/** The agent's state changes of `instance` logged from output line `from` on. */
function transitionsSince(agent: AgentProcess, instance: string, from: number): { t: number; text: string }[] {
  return agent.proc.output.slice(from).flatMap((l) => {
    if (!l.line.startsWith('{')) return [];
    const j = JSON.parse(l.line) as { instance?: string; to?: string; msg?: string; time?: string };
    return j.instance === instance && j.to ? [{ t: Date.parse(j.time ?? '') || l.t, text: `${agent.node.name}'s agent: ${j.msg ?? j.to}` }] : [];
  });
}

/** Requests, losses (by ICMP sequence number), who answered when, and the longest silence. */
function pingSummary(lab: Lab, pings: ProbeResult, t0: number): string {
  const seqs = new Set(pings.replies.map((r) => r.seq));
  const sent = seqs.size === 0 ? 0 : Math.max(...seqs) - Math.min(...seqs) + 1;
  const who = pings.macChanges().map((m, i) => (i === 0 ? nodeOf(lab, m.mac) : `${nodeOf(lab, m.mac)} from ${at(m.t, t0).trim()}`));
  const gap = pings.gapAround(t0);
  return `${sent} echo requests, ${sent - seqs.size} lost, longest silence ${gap ? `${gap.ms.toFixed(0)} ms` : 'none'}
      answered by ${who.join(', then ')}`;
}

/** Why this backup won, when another had the same priority. */
function explainTieBreak(lab: Lab, nodes: NodeEntry[], winner: string, dead: string): void {
  const priority = nodes.find((e) => e.node === winner)?.effectivePriority;
  const tied = nodes.filter((e) => e.node !== winner && e.node !== dead && e.effectivePriority === priority).map((e) => e.node);
  if (tied.length === 0) return;
  const ip = lab.nodes.find((n) => n.name === winner)?.ipv4;
  say(`(${[winner, ...tied].sort().join(' and ')} both run at priority ${priority}; VRRP breaks the tie by the
    higher address: ${winner}, ${ip}.)`);
}
