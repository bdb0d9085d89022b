// Kubernetes objects out of rendered YAML, for the chart tests.
import { parseAllDocuments } from 'yaml';
import type { KubernetesObject } from '@kubernetes/client-node';

export type KubeObject = KubernetesObject & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** Every non-empty document of a multi-document YAML text; throws on a YAML error. */
export function objects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

export function key(o: KubeObject): string {
  return `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** The one object of this kind and name; throws listing what there is otherwise. */
export function find<T>(objs: KubeObject[], kind: string, name: string): T {
  const hits = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${hits.length} among: ${objs.map(key).join(', ')}`);
  return hits[0] as T;
}
