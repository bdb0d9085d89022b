// What a kubelet would do with a pod template, for the processes the cluster tier and the demo
// start themselves (there is no kubelet): the container's environment and command line.
import type { V1Container } from '@kubernetes/client-node';

/**
 * The container's env: literal values, and downward-API fields from `fieldValues` (keyed by
 * fieldPath, e.g. spec.nodeName); a field not given there is left out.
 */
export function containerEnv(container: V1Container, fieldValues: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const v = e.value ?? fieldValues[e.valueFrom?.fieldRef?.fieldPath ?? ''];
    if (v !== undefined) env[e.name] = v;
  }
  return env;
}

/** The container's args with $(VAR) expanded from its env, as the kubelet does. */
export function expandArgs(container: V1Container, fieldValues: Record<string, string>): string[] {
  const env = containerEnv(container, fieldValues);
  return (container.args ?? []).map((a) => a.replace(/\$\((\w+)\)/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new Error(`${container.name}: $(${name}) has no value here (not in its env, or a downward-API field not given)`);
    return v;
  }));
}
