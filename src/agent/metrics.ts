// Prometheus metrics of the agent. The VRRP thread keeps plain counters; the main thread turns
// its periodic snapshots into counter increments here, so scrapes never touch the VRRP thread.
// A VrrpInstance is labelled vrrp_instance: Prometheus gives every scraped series an `instance`
// label of its own (the target), which would rename ours to exported_instance. docs/metrics.md
// documents every series (test/unit/docs/metrics.test.ts holds the two equal).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InstanceSnapshot } from './messages.ts';
import { ownerOf } from '../ipvs/desired.ts';
import type { VirtualServerState } from '../ipvs/desired.ts';
import type { CheckResult } from '../health/index.ts';
import { formatHostPort } from '../api/virtual-server.ts';
import type { RealServer, VirtualServer } from '../api/virtual-server.ts';

const STATES = ['Initialize', 'Backup', 'Master', 'Fault'] as const;

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly state = new Gauge({ name: 'kubelived_vrrp_state', help: 'VRRP state of the instance on this node (1 for the current state).', labelNames: ['vrrp_instance', 'state'], registers: [this.registry] });
  private readonly priority = new Gauge({ name: 'kubelived_vrrp_effective_priority', help: 'Priority advertised after tracked checks.', labelNames: ['vrrp_instance'], registers: [this.registry] });
  private readonly transitions = new Counter({ name: 'kubelived_vrrp_transitions_total', help: 'VRRP state transitions, by the state entered.', labelNames: ['vrrp_instance', 'to'], registers: [this.registry] });
  private readonly sent = new Counter({ name: 'kubelived_vrrp_adverts_sent_total', help: 'VRRP advertisements sent.', labelNames: ['vrrp_instance'], registers: [this.registry] });
  private readonly received = new Counter({ name: 'kubelived_vrrp_adverts_received_total', help: 'Valid VRRP advertisements received.', labelNames: ['vrrp_instance'], registers: [this.registry] });
  private readonly dropped = new Counter({ name: 'kubelived_vrrp_packets_dropped_total', help: 'VRRP packets dropped, by reason.', labelNames: ['vrrp_instance', 'reason'], registers: [this.registry] });
  private readonly unknownVrid = new Counter({ name: 'kubelived_vrrp_unknown_vrid_packets_total', help: 'VRRP packets for a VRID this node does not run.', registers: [this.registry] });
  private readonly failover = new Histogram({
    name: 'kubelived_vrrp_failover_duration_seconds',
    help: 'Time from the last advert of the old master to this node becoming master.',
    labelNames: ['vrrp_instance'],
    buckets: [0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 3, 4, 6, 10],
    registers: [this.registry],
  });
  private readonly timerLateness = new Gauge({ name: 'kubelived_vrrp_timer_lateness_seconds', help: 'Worst lateness of a VRRP timer in the last snapshot period.', registers: [this.registry] });
  private readonly trackUp = new Gauge({ name: 'kubelived_vrrp_track_up', help: 'Tracked check state (1 up, 0 down).', labelNames: ['vrrp_instance', 'track'], registers: [this.registry] });
  private readonly checkSeconds = new Histogram({ name: 'kubelived_vrrp_track_check_duration_seconds', help: 'Duration of tracked check runs.', labelNames: ['vrrp_instance', 'track'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  private readonly rsUp = new Gauge({ name: 'kubelived_realserver_up', help: 'Health of a real server (1 up, 0 down).', labelNames: ['virtual_server', 'real_server'], registers: [this.registry] });
  private readonly rsTransitions = new Counter({ name: 'kubelived_realserver_transitions_total', help: 'Real server up/down changes, by the state entered.', labelNames: ['virtual_server', 'real_server', 'to'], registers: [this.registry] });
  private readonly rsChecks = new Counter({ name: 'kubelived_realserver_checks_total', help: 'Health check runs, by result.', labelNames: ['virtual_server', 'real_server', 'result'], registers: [this.registry] });
  private readonly rsLatency = new Histogram({ name: 'kubelived_realserver_check_duration_seconds', help: 'Duration of completed health check runs.', labelNames: ['virtual_server'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  private readonly reconcileSeconds = new Histogram({ name: 'kubelived_ipvs_reconcile_duration_seconds', help: 'Dump, plan and apply of the IPVS tables.', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry] });
  private readonly reconcileErrors = new Counter({ name: 'kubelived_ipvs_reconcile_errors_total', help: 'IPVS reconcile runs that failed (IPVS unavailable, a dump or an operation refused); each is retried with backoff.', registers: [this.registry] });
  private readonly ipvsOps = new Counter({ name: 'kubelived_ipvs_operations_total', help: 'IPVS operations sent to the kernel, by result.', labelNames: ['result'], registers: [this.registry] });
  private readonly ipvsServices = new Gauge({ name: 'kubelived_ipvs_services', help: 'IPVS services this node programs.', registers: [this.registry] });
  private readonly ipvsDestinations = new Gauge({ name: 'kubelived_ipvs_destinations', help: 'IPVS destinations (real and sorry servers) this node programs.', registers: [this.registry] });
  private readonly vsHealthy = new Gauge({ name: 'kubelived_virtualserver_healthy_realservers', help: 'Healthy real servers of a VirtualServer.', labelNames: ['virtual_server'], registers: [this.registry] });
  private readonly vsQuorum = new Gauge({ name: 'kubelived_virtualserver_quorum_up', help: 'Whether the VirtualServer has quorum (0: the sorry server serves).', labelNames: ['virtual_server'], registers: [this.registry] });
  private last = new Map<string, InstanceSnapshot>();
  private unknownVridTotal = 0;
  /** real_server label values by virtual_server: those running() listed last, and those exported. */
  private wantedRealServers = new Map<string, Set<string>>();
  private readonly realServerLabels = new Map<string, Set<string>>();

  constructor() {
    // Includes nodejs_eventloop_lag_seconds for the main thread.
    collectDefaultMetrics({ register: this.registry });
  }

  transition(instance: string, to: string, failoverMs: number | undefined): void {
    this.transitions.inc({ vrrp_instance: instance, to });
    for (const s of STATES) this.state.set({ vrrp_instance: instance, state: s }, s === to ? 1 : 0);
    if (failoverMs !== undefined) this.failover.observe({ vrrp_instance: instance }, failoverMs / 1000);
  }

  snapshot(instances: InstanceSnapshot[], timerLatenessMs: number, unknownVridDrops: number): void {
    const next = new Map<string, InstanceSnapshot>();
    for (const s of instances) {
      const last = this.last.get(s.name);
      // A changed spec restarts the router, whose counters start again from zero: all it has
      // counted since is new (a counter must never go down, and prom-client throws if asked to).
      const prev = last && !restarted(s, last) ? last : undefined;
      const instance = { vrrp_instance: s.name };
      this.sent.inc(instance, s.advertsSent - (prev?.advertsSent ?? 0));
      this.received.inc(instance, s.advertsReceived - (prev?.advertsReceived ?? 0));
      for (const [reason, n] of Object.entries(s.drops)) {
        const delta = n - (prev?.drops[reason] ?? 0);
        if (delta > 0 || !prev) this.dropped.inc({ ...instance, reason }, delta);
      }
      this.priority.set(instance, s.effectivePriority);
      for (const st of STATES) this.state.set({ ...instance, state: st }, st === s.state ? 1 : 0);
      next.set(s.name, s);
    }
    for (const [name, prev] of this.last) if (!next.has(name)) this.forget(prev);
    this.last = next;
    this.timerLateness.set(timerLatenessMs / 1000);
    const prevUnknown = this.unknownVridTotal;
    this.unknownVrid.inc(Math.max(0, unknownVridDrops - prevUnknown));
    this.unknownVridTotal = unknownVridDrops;
  }

  check(instance: string, track: string, up: boolean, durationMs: number): void {
    this.trackUp.set({ vrrp_instance: instance, track }, up ? 1 : 0);
    this.checkSeconds.observe({ vrrp_instance: instance, track }, durationMs / 1000);
  }

  realServer(virtualServer: string, server: Pick<RealServer, 'address' | 'port'>, changed: boolean, up: boolean, result: CheckResult): void {
    const realServer = formatHostPort(server.address, server.port);
    // A check stopping after its server left the config must not bring its series back.
    if (!this.wantedRealServers.get(virtualServer)?.has(realServer)) return;
    let seen = this.realServerLabels.get(virtualServer);
    if (!seen) this.realServerLabels.set(virtualServer, (seen = new Set()));
    seen.add(realServer);
    this.rsUp.set({ virtual_server: virtualServer, real_server: realServer }, up ? 1 : 0);
    if (changed) this.rsTransitions.inc({ virtual_server: virtualServer, real_server: realServer, to: up ? 'up' : 'down' });
    this.rsChecks.inc({ virtual_server: virtualServer, real_server: realServer, result: result.ok ? 'ok' : result.timedOut ? 'timeout' : 'fail' });
    if (!result.timedOut) this.rsLatency.observe({ virtual_server: virtualServer }, result.durationMs / 1000);
  }

  reconciled(ms: number, ops: number, failed: number, status: VirtualServerState[], planned: string[] | 'all', services: number, destinations: number): void {
    this.reconcileSeconds.observe(ms / 1000);
    this.ipvsOps.inc({ result: 'ok' }, ops - failed);
    this.ipvsOps.inc({ result: 'error' }, failed);
    this.ipvsServices.set(services);
    this.ipvsDestinations.set(destinations);
    if (planned === 'all') {
      this.vsHealthy.reset();
      this.vsQuorum.reset();
    } else {
      for (const owner of planned) {
        this.vsHealthy.remove({ virtual_server: owner });
        this.vsQuorum.remove({ virtual_server: owner });
      }
    }
    for (const s of status) {
      this.vsHealthy.set({ virtual_server: s.owner }, s.healthy);
      this.vsQuorum.set({ virtual_server: s.owner }, s.quorumUp ? 1 : 0);
    }
  }

  reconcileFailed(): void {
    this.reconcileErrors.inc();
  }

  /**
   * The VirtualServers this node now runs, real servers resolved (backendRef endpoints
   * included): the series of real servers and VirtualServers no longer among them go, so pods
   * coming and going behind a backendRef do not grow the scrape without bound.
   */
  running(virtualServers: readonly VirtualServer[]): void {
    this.wantedRealServers = new Map(virtualServers.map((vs) => [ownerOf(vs), new Set(vs.spec.realServers.map((rs) => formatHostPort(rs.address, rs.port)))]));
    for (const [virtualServer, seen] of this.realServerLabels) {
      const keep = this.wantedRealServers.get(virtualServer);
      for (const realServer of seen) {
        if (keep?.has(realServer)) continue;
        const labels = { virtual_server: virtualServer, real_server: realServer };
        this.rsUp.remove(labels);
        for (const to of ['up', 'down']) this.rsTransitions.remove({ ...labels, to });
        for (const result of ['ok', 'fail', 'timeout']) this.rsChecks.remove({ ...labels, result });
        seen.delete(realServer);
      }
      if (!keep) {
        this.rsLatency.remove({ virtual_server: virtualServer });
        this.realServerLabels.delete(virtualServer);
      }
    }
  }

  forgetTrack(instance: string, track: string): void {
    this.trackUp.remove({ vrrp_instance: instance, track });
    this.checkSeconds.remove({ vrrp_instance: instance, track });
  }

  /** A removed instance disappears from the scrape instead of freezing at its last values. */
  private forget(prev: InstanceSnapshot): void {
    const instance = { vrrp_instance: prev.name };
    for (const m of [this.priority, this.sent, this.received, this.failover]) m.remove(instance);
    for (const s of STATES) {
      this.state.remove({ ...instance, state: s });
      this.transitions.remove({ ...instance, to: s });
    }
    for (const reason of Object.keys(prev.drops)) this.dropped.remove({ ...instance, reason });
  }
}

/** Whether the router behind `now` is not the one behind `before`: a counter went down. */
function restarted(now: InstanceSnapshot, before: InstanceSnapshot): boolean {
  return now.advertsSent < before.advertsSent || now.advertsReceived < before.advertsReceived
    || Object.entries(now.drops).some(([reason, n]) => n < (before.drops[reason] ?? 0));
}
