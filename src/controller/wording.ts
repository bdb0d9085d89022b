// How messages name several things, so `kubectl describe` reads as sentences: "n1",
// "n1 and n2", "n1, n2 and n3".
export function listing(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
}

/** "node n1", "nodes n1 and n2". */
export function nodesText(nodes: readonly string[]): string {
  return `${nodes.length === 1 ? 'node' : 'nodes'} ${listing(nodes)}`;
}
