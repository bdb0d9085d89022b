// docs/crd-reference.md is generated from crds/*.yaml (scripts/gen-crd-reference.ts): the
// committed page must be what a fresh generation gives, and the generation must show what a
// reader looks up there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REFERENCE_FILE, generateCrdReference } from '../../../scripts/gen-crd-reference.ts';

const fresh = generateCrdReference();

test('the committed CRD reference is the generated one (run node scripts/gen-crd-reference.ts)', () => {
  assert.equal(readFileSync(REFERENCE_FILE, 'utf8'), fresh);
});

test('fields with type, default and constraints; CEL rules with their messages; printer columns', () => {
  const row = (path: string): string => {
    const line = fresh.split('\n').find((l) => l.startsWith(`| \`${path}\` |`));
    assert.ok(line, `no row for ${path}`);
    return line;
  };
  assert.match(row('spec.vrid'), /\| integer \| {2}\| required; 1 to 255 \| Virtual router ID/);
  assert.match(row('spec.advertisementInterval'), /\| duration \| `"1s"` \|/);
  assert.match(row('spec.priorityOverrides'), /list-map keyed by `node`/);
  assert.match(row('spec.virtualIPs[]'), /length at most 64; CEL rules below/);
  assert.match(row('spec.scheduler'), /one of `rr`, `wrr`, .*`twos`/);
  assert.match(row('spec.nodeSelector.matchLabels'), /\| map\[string\]string \|/);
  assert.match(row('status.nodes[].state'), /one of `MASTER`, `BACKUP`, `FAULT`, `INIT`, `STOPPED`/);
  // A rule's message, the field it is reported on, and the rule itself.
  assert.match(fresh, /- On `spec`, reported on `spec.advertisementInterval` \(FieldValueInvalid\): advertisementInterval: VRRPv2 intervals are whole seconds from 1s to 255s\n\n {2}```cel\n {2}self.version != 2 \|\| /);
  assert.match(fresh, /\| READY \| string \| `.status.ready` \| Real servers in service on the master \/ total \(0\/total while the master cannot program the service\). \|/);
  assert.match(fresh, /\| NODES \| integer \| `.status.nodeCount` \|/);
});
