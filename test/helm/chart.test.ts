// The Helm chart (deploy/helm/kubelived) with the real helm CLI, no cluster: lint, the golden
// render, the committed plain manifests, schema errors a user would see, and what the rendered
// objects mean (controller Deployment, agent config, CRDs from crds/). What the RBAC grants is
// asked of a real API server (kubectl auth can-i in install.test.ts and test/cluster/crds.test.ts).
//
// After an intended template change: UPDATE_GOLDEN=1 node --test test/helm/chart.test.ts
// (rewrites test/helm/golden/kubelived.yaml) and node scripts/render-manifests.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { V1ConfigMap, V1Deployment, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { helm, CHART_DIR } from './lib/helm.ts';
import { objects, find, key } from './lib/objects.ts';
import type { KubeObject } from './lib/objects.ts';
import { renderManifests, MANIFESTS_FILE } from '../../scripts/render-manifests.ts';
import { run } from '../lab/run.ts';

const path = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const GOLDEN_VALUES = path('test/helm/golden/values.yaml');
const GOLDEN = path('test/helm/golden/kubelived.yaml');
const CRDS = path('crds');
const NS = 'kubelived-system';

async function template(args: string[] = []): Promise<KubeObject[]> {
  const { stdout } = await helm(['template', 'kubelived', CHART_DIR, '--namespace', NS, ...args]);
  return objects(stdout);
}

function controller(objs: KubeObject[]): V1Deployment {
  return find<V1Deployment>(objs, 'Deployment', 'kubelived-controller');
}

test('helm lint --strict finds nothing, with the default and with the golden values', async () => {
  for (const values of [[], ['-f', GOLDEN_VALUES]]) {
    const { stdout } = await helm(['lint', '--strict', CHART_DIR, ...values]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.doesNotMatch(stdout, /\[(WARNING|ERROR)\]/, stdout);
  }
});

test('helm template with every value changed equals the golden file', async () => {
  const { stdout } = await helm(['template', 'lb', CHART_DIR, '--namespace', 'lb-system', '-f', GOLDEN_VALUES]);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, stdout);
  assert.equal(stdout, readFileSync(GOLDEN, 'utf8'),
    'the render differs from test/helm/golden/kubelived.yaml; if intended: UPDATE_GOLDEN=1 node --test test/helm/chart.test.ts');
});

test('deploy/manifests/kubelived.yaml is the chart rendered with its defaults', async () => {
  assert.equal(readFileSync(MANIFESTS_FILE, 'utf8'), await renderManifests(),
    'deploy/manifests/kubelived.yaml is stale: run node scripts/render-manifests.ts');
  const objs = objects(readFileSync(MANIFESTS_FILE, 'utf8'));
  assert.equal(objs[0] && key(objs[0]), `Namespace/${NS}`, 'the namespace comes first, before what lives in it');
  assert.deepEqual(objs.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name).sort(),
    ['virtualservers.kubelived.io', 'vrrpinstances.kubelived.io']);
  for (const o of objs.filter((x) => x.kind !== 'Namespace' && !x.kind.startsWith('Cluster') && x.kind !== 'CustomResourceDefinition')) {
    assert.equal(o.metadata.namespace, NS, `${key(o)} must name its namespace (kubectl apply -f has no -n)`);
  }
});

// [helm template flag, its argument, what the error must say]
const WRONG_VALUES: [string, string, RegExp][] = [
  ['--set', 'controller.replicas=two', /at '\/controller\/replicas': got string, want integer/],
  ['--set', 'controller.replicas=0', /at '\/controller\/replicas': minimum: got 0, want 1/],
  ['--set', 'controler.replicas=3', /additional properties 'controler' not allowed/],
  ['--set', 'agent.nodeSelecter.zone=a', /at '\/agent': additional properties 'nodeSelecter' not allowed/],
  ['--set', 'controller.metricsPort=70000', /at '\/controller\/metricsPort': maximum: got 70,000, want 65,535/],
  ['--set', 'image.pullPolicy=Sometimes', /at '\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/],
  ['--set', 'controller.podAntiAffinity=strict', /at '\/controller\/podAntiAffinity': value must be one of 'preferred', 'required'/],
  ['--set', 'agent.tolerations[0].operator=Maybe', /at '\/agent\/tolerations\/0\/operator': value must be one of 'Exists', 'Equal'/],
  ['--set', 'agent.tolerations[0].operator=Exists,agent.tolerations[0].value=x', /at '\/agent\/tolerations\/0\/value': maxLength: got 1, want 0/],
  ['--set', 'agent.resources.limits.memory=lots', /at '\/agent\/resources\/limits\/memory': 'lots' does not match pattern/],
  ['--set', 'agent.resources.requests=100m', /at '\/agent\/resources\/requests': got string, want object/],
  ['--set-string', 'controller.leaderElection.leaseDuration=15 seconds', /at '\/controller\/leaderElection\/leaseDuration': '15 seconds' does not match pattern/],
  ['--set', 'metrics.serviceMonitor.enabled=yes', /at '\/metrics\/serviceMonitor\/enabled': got string, want boolean/],
];

test('a wrong value fails helm template with an error naming the value', async () => {
  for (const [flag, arg, message] of WRONG_VALUES) {
    const r = await helm(['template', 'kubelived', CHART_DIR, '--namespace', NS, flag, arg], { allowFail: true });
    assert.notEqual(r.code, 0, `${flag} ${arg} was accepted`);
    assert.equal(r.stdout, '', `${flag} ${arg}: nothing may be rendered`);
    assert.match(r.stderr, /values don't meet the specifications of the schema/, `${flag} ${arg}`);
    assert.match(r.stderr, message, `${flag} ${arg}`);
  }
});

test('the controller runs 2 replicas of `kubelived controller`, unprivileged, spread over nodes, probed, with a disruption budget', async () => {
  const objs = await template();
  const d = controller(objs);
  const pod = d.spec?.template;
  const labels = pod?.metadata?.labels ?? {};
  assert.equal(d.spec?.replicas, 2);
  assert.deepEqual(d.spec?.selector.matchLabels, {
    'app.kubernetes.io/name': 'kubelived', 'app.kubernetes.io/instance': 'kubelived', 'app.kubernetes.io/component': 'controller',
  });
  for (const [k, v] of Object.entries(d.spec?.selector.matchLabels ?? {})) assert.equal(labels[k], v, `pod label ${k}`);

  assert.equal(pod?.spec?.serviceAccountName, 'kubelived-controller');
  const [c, ...others] = pod?.spec?.containers ?? [];
  assert.ok(c);
  assert.equal(others.length, 0);
  assert.equal(c.image, 'kubelived:0.1.0', 'the tag defaults to the chart appVersion');
  assert.deepEqual(c.args, [
    'controller', '--namespace', NS, '--agent-config', '/etc/kubelived/agent.yaml', '--metrics-addr', ':9640',
    '--leader-elect-lease-duration', '15s', '--leader-elect-renew-deadline', '10s', '--leader-elect-retry-period', '2s',
    '--owner-deployment', d.metadata?.name,
  ]);

  // docs/image.md: uid 65532, no capabilities, nothing writable.
  assert.deepEqual(pod?.spec?.securityContext, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
  assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });

  const term = pod?.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
  assert.equal(term?.topologyKey, 'kubernetes.io/hostname');
  assert.deepEqual(term?.labelSelector?.matchLabels, d.spec?.selector.matchLabels);

  assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9640, protocol: 'TCP' }]);
  assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'metrics' });
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'metrics' });

  const pdb = find<V1PodDisruptionBudget>(objs, 'PodDisruptionBudget', 'kubelived-controller');
  assert.equal(pdb.spec?.minAvailable, 1);
  assert.deepEqual(pdb.spec?.selector?.matchLabels, d.spec?.selector.matchLabels);

  const svc = find<V1Service>(objs, 'Service', 'kubelived-controller-metrics');
  assert.deepEqual(svc.spec?.selector, d.spec?.selector.matchLabels);
  assert.deepEqual(svc.spec?.ports, [{ name: 'metrics', port: 9640, targetPort: 'metrics', protocol: 'TCP' }]);
  assert.equal(objs.filter((o) => o.kind === 'ServiceMonitor').length, 0, 'no ServiceMonitor unless enabled');
});

test('with one replica there is no disruption budget (it would block every drain); required anti-affinity never shares a node', async () => {
  const one = await template(['--set', 'controller.replicas=1']);
  assert.equal(controller(one).spec?.replicas, 1);
  assert.equal(one.filter((o) => o.kind === 'PodDisruptionBudget').length, 0);

  const strict = controller(await template(['--set', 'controller.podAntiAffinity=required']));
  const anti = strict.spec?.template.spec?.affinity?.podAntiAffinity;
  assert.equal(anti?.preferredDuringSchedulingIgnoredDuringExecution, undefined);
  assert.equal(anti?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey, 'kubernetes.io/hostname');
});

test('the ServiceMonitor, when enabled, selects both metrics Services by a port they have, and carries the extra labels', async () => {
  const objs = await template(['--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.serviceMonitor.labels.release=prometheus']);
  interface Monitor {
    apiVersion: string;
    metadata: { labels: Record<string, string> };
    spec: {
      selector: { matchLabels: Record<string, string>; matchExpressions: { key: string; operator: string; values: string[] }[] };
      namespaceSelector: { matchNames: string[] };
      endpoints: { port: string; interval: string }[];
    };
  }
  const sm = find<Monitor>(objs, 'ServiceMonitor', 'kubelived');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(sm.metadata.labels.release, 'prometheus');
  assert.deepEqual(sm.spec.namespaceSelector.matchNames, [NS]);
  assert.deepEqual(sm.spec.endpoints.map((e) => [e.port, e.interval]), [['metrics', '30s']]);
  const selects = (labels: Record<string, string>): boolean =>
    Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)
    && sm.spec.selector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''));
  const services = objs.filter((o) => o.kind === 'Service') as (V1Service & KubeObject)[];
  assert.deepEqual(services.filter((x) => selects(x.metadata.labels ?? {})).map((x) => x.metadata.name).sort(),
    ['kubelived-agent-metrics', 'kubelived-controller-metrics']);
  for (const svc of services) assert.ok(svc.spec?.ports?.some((p) => p.name === 'metrics'), svc.metadata.name);
});

test('the agent values reach the controller as its --agent-config file, and changing them rolls the controller', async () => {
  const values = parse(readFileSync(GOLDEN_VALUES, 'utf8')) as { image: { repository: string; tag: string }; agent: Record<string, unknown> };
  const objs = await template(['-f', GOLDEN_VALUES]);
  const cm = find<V1ConfigMap>(objs, 'ConfigMap', 'kubelived-agent-config');
  assert.deepEqual(Object.keys(cm.data ?? {}), ['agent.yaml']);
  assert.deepEqual(parse(cm.data?.['agent.yaml'] ?? ''), {
    image: `${values.image.repository}:${values.image.tag}`,
    nodeSelector: { ...values.agent.nodeSelector as Record<string, string>, 'kubernetes.io/os': 'linux' },
    tolerations: values.agent.tolerations,
    resources: values.agent.resources,
  });

  // The file the controller is told to read is that ConfigMap key, mounted.
  const pod = controller(objs).spec?.template.spec;
  const args = pod?.containers[0]?.args ?? [];
  const file = args[args.indexOf('--agent-config') + 1];
  const volume = pod?.volumes?.find((v) => v.configMap?.name === 'kubelived-agent-config');
  const mount = pod?.containers[0]?.volumeMounts?.find((m) => m.name === volume?.name);
  assert.ok(volume && mount, 'the ConfigMap is mounted into the controller');
  assert.equal(file, join(mount.mountPath, 'agent.yaml'));
  assert.equal(mount.readOnly, true);

  const checksum = async (...set: string[]): Promise<string | undefined> =>
    controller(await template(set.flatMap((s) => ['--set', s]))).spec?.template.metadata?.annotations?.['checksum/agent-config'];
  const base = await checksum();
  assert.match(base ?? '', /^[0-9a-f]{64}$/);
  assert.notEqual(await checksum('agent.nodeSelector.pool=lb'), base, 'a new agent nodeSelector restarts the controller');
  assert.notEqual(await checksum('image.tag=0.2.0'), base, 'a new image restarts the controller');
  assert.equal(await checksum('controller.replicas=3'), base, 'scaling does not');
});

test('the chart\'s CRDs are crds/ itself: in helm template --include-crds and in helm package', async () => {
  const files = readdirSync(CRDS).sort();
  const fromFiles = files.flatMap((f) => objects(readFileSync(join(CRDS, f), 'utf8')));
  const rendered = (await template(['--include-crds'])).filter((o) => o.kind === 'CustomResourceDefinition');
  assert.deepEqual(rendered, fromFiles);

  const dir = mkdtempSync(join(tmpdir(), 'kubelived-package-'));
  try {
    await helm(['package', CHART_DIR, '--destination', dir]);
    const written = readdirSync(dir);
    const archive = written.length === 1 ? written[0] : undefined;
    if (!archive?.endsWith('.tgz')) assert.fail(`helm package wrote ${written.join(', ')}, not one .tgz`);
    await run(['tar', '-xzf', join(dir, archive), '-C', dir]);
    assert.deepEqual(readdirSync(join(dir, 'kubelived/crds')).sort(), files);
    for (const f of files) {
      assert.equal(readFileSync(join(dir, 'kubelived/crds', f), 'utf8'), readFileSync(join(CRDS, f), 'utf8'), `packaged crds/${f}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
