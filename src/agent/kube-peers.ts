// unicastPeers [auto] on one node: the InternalIP of every other Node the instance selects, of
// the instance's address family. Sorted by address, so the list (and the plan built from it)
// changes only when a peer does, never with the order the informer lists Nodes in.
import type { Family } from '../api/address.ts';
import { compareAddressBytes, parseAddress } from '../vrrp/address.ts';
import type { ParsedAddress } from '../vrrp/address.ts';
import type { KubeObject } from '../kube/resources.ts';
import { selects } from './desired.ts';

export type NodeObject = KubeObject & { status?: unknown };

export interface AutoPeers {
  /** Canonical text, sorted, each once. */
  addresses: string[];
  /** Selected Nodes (this one aside) with no InternalIP of the family: not peers. */
  withoutAddress: string[];
}

/** `self` (this node's name) is never its own peer. */
export function autoPeers(selector: Record<string, string>, family: Family, nodes: Iterable<NodeObject>, self: string): AutoPeers {
  const found = new Map<string, ParsedAddress>();
  const withoutAddress: string[] = [];
  for (const n of nodes) {
    if (n.metadata.name === self || !selects(selector, n.metadata.labels ?? {})) continue;
    // A dual-stack Node lists one InternalIP per family; the first of ours is its primary.
    const address = internalIPs(n).find((a) => a.family === family);
    if (address) found.set(address.text, address);
    else withoutAddress.push(n.metadata.name);
  }
  const addresses = [...found.values()].sort((a, b) => compareAddressBytes(a.bytes, b.bytes)).map((a) => a.text);
  return { addresses, withoutAddress: withoutAddress.sort() };
}

/** A Node's status.addresses of type InternalIP, parsed (kubelets write them; a bad one is skipped). */
function internalIPs(n: NodeObject): ParsedAddress[] {
  const addresses = (n.status as { addresses?: unknown } | undefined)?.addresses;
  if (!Array.isArray(addresses)) return [];
  return addresses.flatMap((a: { type?: unknown; address?: unknown }) => {
    const p = a.type === 'InternalIP' && typeof a.address === 'string' ? parseAddress(a.address) : undefined;
    return p ? [p] : [];
  });
}
