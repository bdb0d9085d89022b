// Every reconcile validates every object against the others, but an object's spec is parsed
// once per version (uid and generation; status writes do not change the generation), so a
// pass over 1,000 unchanged VirtualServers costs 1,000 map lookups, not 1,000 parses.
import type { Read } from '../api/documents.ts';
import type { VirtualServer } from '../api/virtual-server.ts';
import type { VrrpInstance } from '../api/vrrp-instance.ts';
import { objectKey } from '../kube/resources.ts';
import type { KubeObject } from '../kube/resources.ts';
import type { InstanceObject, ServerObject } from './objects.ts';
import { plainReader } from './validation.ts';
import type { SpecReader } from './validation.ts';

function version(o: KubeObject): string {
  return `${o.metadata.uid ?? ''}/${o.metadata.generation ?? o.metadata.resourceVersion ?? ''}`;
}

export class SpecMemo implements SpecReader {
  private instances = new Map<string, { version: string; read: Read<VrrpInstance> }>();
  private servers = new Map<string, { version: string; instance: VrrpInstance | undefined; read: Read<VirtualServer> }>();
  private seenInstances = new Set<string>();
  private seenServers = new Set<string>();

  instance(o: InstanceObject): Read<VrrpInstance> {
    const key = o.metadata.name;
    this.seenInstances.add(key);
    const v = version(o);
    const m = this.instances.get(key);
    if (m?.version === v) return m.read;
    const read = plainReader.instance(o);
    this.instances.set(key, { version: v, read });
    return read;
  }

  /** Parsed again when the instance's parse changed too (its VIPs and family are checked). */
  server(o: ServerObject, instance: VrrpInstance | undefined): Read<VirtualServer> {
    const key = objectKey(o.metadata.namespace, o.metadata.name);
    this.seenServers.add(key);
    const v = version(o);
    const m = this.servers.get(key);
    if (m?.version === v && m.instance === instance) return m.read;
    const read = plainReader.server(o, instance);
    this.servers.set(key, { version: v, instance, read });
    return read;
  }

  /** Forgets the objects not read since the last call (deleted ones). */
  sweep(): void {
    for (const k of this.instances.keys()) if (!this.seenInstances.has(k)) this.instances.delete(k);
    for (const k of this.servers.keys()) if (!this.seenServers.has(k)) this.servers.delete(k);
    this.seenInstances = new Set();
    this.seenServers = new Set();
  }
}
