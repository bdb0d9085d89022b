// Prometheus metrics of the controller (served with the agent's HTTP surface, src/agent/http.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly leader = new Gauge({ name: 'kubelived_controller_leader', help: 'Whether this replica holds the leader Lease (1) or stands by (0).', registers: [this.registry] });
  readonly reconcileSeconds = new Histogram({
    name: 'kubelived_controller_reconcile_duration_seconds',
    help: 'One pass over every resource: validation, status summaries and the writes they need.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({ name: 'kubelived_controller_status_writes_total', help: 'Status applies, by kind and result.', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly daemonSetApplies = new Counter({ name: 'kubelived_controller_daemonset_applies_total', help: 'Applies of the agent DaemonSet, by result.', labelNames: ['result'], registers: [this.registry] });
  readonly watchErrors = new Counter({ name: 'kubelived_controller_watch_errors_total', help: 'Failed lists and watches, by resource.', labelNames: ['resource'], registers: [this.registry] });
  readonly objects = new Gauge({ name: 'kubelived_controller_resources', help: 'Resources by kind and whether they are accepted.', labelNames: ['kind', 'accepted'], registers: [this.registry] });
  readonly splitBrains = new Gauge({ name: 'kubelived_controller_split_brain_instances', help: 'VrrpInstances with SplitBrain=True.', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
