// Renders deploy/manifests/kubelived.yaml, the install for users without Helm, from the chart
// (deploy/helm/kubelived) with its default values for the namespace kubelived-system.
// test/helm/chart.test.ts fails when the committed file differs from a fresh render.
//
//   bash test/helm/build-helm.sh && node scripts/render-manifests.ts
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { helm, CHART_DIR } from '../test/helm/lib/helm.ts';

export const MANIFESTS_FILE = fileURLToPath(new URL('../deploy/manifests/kubelived.yaml', import.meta.url));
export const MANIFESTS_NAMESPACE = 'kubelived-system';

// Helm leaves the namespace to `helm install --create-namespace`; the plain manifests create it.
const HEADER = `# kubelived: CRDs, controller, RBAC and metrics Services for the namespace ${MANIFESTS_NAMESPACE},
# rendered from the Helm chart deploy/helm/kubelived with its default values by
# scripts/render-manifests.ts. Do not edit: change the chart and render again.
#
#   kubectl apply -f kubelived.yaml
#
# The controller then creates the agent DaemonSet kubelived-agent.
---
apiVersion: v1
kind: Namespace
metadata:
  name: ${MANIFESTS_NAMESPACE}
`;

export async function renderManifests(): Promise<string> {
  const { stdout } = await helm(['template', 'kubelived', CHART_DIR, '--namespace', MANIFESTS_NAMESPACE, '--include-crds']);
  return HEADER + stdout;
}

if (import.meta.main) {
  writeFileSync(MANIFESTS_FILE, await renderManifests());
  console.log(`wrote ${MANIFESTS_FILE}`);
}
