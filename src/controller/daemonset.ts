// The agent DaemonSet the controller owns: one agent per node on the host network, running
// exactly the contract's command line, with the two capabilities VRRP and IPVS need and no
// more. Rolling updates replace one node's agent at a time, so a VRRP group never loses two
// members at once (the stopping master hands over first; see terminationGracePeriodSeconds).
import { MAX_HAND_OVER_MS } from '../agent/messages.ts';
import type { AgentValues } from './agent-config.ts';

export const AGENT_DAEMONSET = 'kubelived-agent';
export const AGENT_SERVICE_ACCOUNT = 'kubelived-agent';
export const AGENT_METRICS_PORT = 9641;
export const STATE_DIR = '/var/lib/kubelived';

/**
 * V8's young generation, per semi-space. Node's default grows it to tens of MiB under the
 * bursts of a large list or apply, and that memory stays resident; 16 MiB cost the agent no
 * measurable latency at 10,000 VirtualServers and saved about 45 MiB of RSS (docs/benchmarks.md).
 */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=16';

const SELECTOR = { 'app.kubernetes.io/name': 'kubelived', 'app.kubernetes.io/component': 'agent' };
/** The agent's shutdown: hand over (at most MAX_HAND_OVER_MS), then stop; plus slack for a busy node. */
const GRACE_SECONDS = Math.ceil(MAX_HAND_OVER_MS / 1000) + 10;

/** The object whose deletion deletes the DaemonSet (metav1.OwnerReference). */
export interface Owner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/**
 * The DaemonSet as the controller applies it (server-side apply: only these fields are ours).
 * With an owner (the controller's Deployment) the garbage collector deletes the agents with it,
 * so `helm uninstall` leaves none behind. Only an owner, not a managing controller
 * (controller: true): the Deployment controller has nothing to do with DaemonSets.
 */
export function renderAgentDaemonSet(values: AgentValues, namespace: string, owner?: Owner): Record<string, unknown> {
  const labels = { ...SELECTOR, 'app.kubernetes.io/managed-by': 'kubelived-controller' };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: AGENT_DAEMONSET, namespace, labels, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: {
      selector: { matchLabels: SELECTOR },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: AGENT_SERVICE_ACCOUNT,
          hostNetwork: true,
          dnsPolicy: 'ClusterFirstWithHostNet',
          terminationGracePeriodSeconds: GRACE_SECONDS,
          nodeSelector: values.nodeSelector,
          tolerations: values.tolerations,
          containers: [{
            name: 'agent',
            image: values.image,
            imagePullPolicy: 'IfNotPresent',
            // The image's entrypoint is the kubelived CLI (docs/image.md).
            args: [
              'agent', '--kubernetes', '--node', '$(NODE_NAME)', '--namespace', '$(POD_NAMESPACE)',
              '--metrics-addr', `0.0.0.0:${AGENT_METRICS_PORT}`, '--state-dir', STATE_DIR,
            ],
            env: [
              { name: 'NODE_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
              { name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS },
            ],
            ports: [{ name: 'metrics', containerPort: AGENT_METRICS_PORT, protocol: 'TCP' }],
            // Root for the capabilities to be effective (the image's default user is not).
            securityContext: {
              runAsUser: 0,
              runAsNonRoot: false,
              privileged: false,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
            },
            livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10, failureThreshold: 3 },
            readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 5 },
            resources: values.resources,
            volumeMounts: [{ name: 'state', mountPath: STATE_DIR }],
          }],
          volumes: [{ name: 'state', hostPath: { path: STATE_DIR, type: 'DirectoryOrCreate' } }],
        },
      },
    },
  };
}

/**
 * Whether `live` already has every field of `wanted` with the same value: objects may carry
 * more keys (the API server's defaults), lists must match element by element. Deciding this
 * locally keeps the controller from re-applying an unchanged DaemonSet on every start.
 */
export function containsAll(live: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) {
    return Array.isArray(live) && live.length === wanted.length && wanted.every((w, i) => containsAll(live[i], w));
  }
  if (wanted !== null && typeof wanted === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    const l = live as Record<string, unknown>;
    return Object.entries(wanted).every(([k, w]) => {
      // An empty map or list the server drops (omitempty) is the same as absent.
      if (l[k] === undefined && isEmpty(w)) return true;
      return containsAll(l[k], w);
    });
  }
  return live === wanted;
}

function isEmpty(v: unknown): boolean {
  return (Array.isArray(v) && v.length === 0) || (v !== null && typeof v === 'object' && Object.keys(v).length === 0);
}
