// The invalid-manifest table on the parser's side: the standalone agent (and the controller,
// which uses the same parser) must refuse every case naming the same field the API server
// names (test/cluster/crds.test.ts), and accept every case's baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { parseResources } from '../../../src/api/documents.ts';
import { ConfigError } from '../../../src/api/issues.ts';
import { INVALID_MANIFESTS, REFERENCED_INSTANCE } from '../../cluster/fixtures/invalid-manifests.ts';
import type { Obj } from '../../cluster/fixtures/invalid-manifests.ts';

/** A VirtualServer needs its instance beside it in a config file. */
function configFile(o: Obj): string {
  const docs = o.kind === 'VirtualServer' ? [REFERENCED_INSTANCE, o] : [o];
  return docs.map((d) => stringify(d)).join('---\n');
}

test(`the table has at least 35 cases with distinct names (${INVALID_MANIFESTS.length})`, () => {
  assert.ok(INVALID_MANIFESTS.length >= 35);
  assert.equal(new Set(INVALID_MANIFESTS.map((c) => c.name)).size, INVALID_MANIFESTS.length);
});

for (const c of INVALID_MANIFESTS) {
  const field = c.parserField ?? c.field;
  test(`parser: ${c.name}: the baseline is accepted, the manifest refused naming ${field}`, () => {
    assert.notDeepEqual(c.manifest, c.baseline);
    assert.doesNotThrow(() => parseResources(configFile(c.baseline), 'baseline.yaml'));
    assert.throws(() => parseResources(configFile(c.manifest), 'case.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.issues.some((i) => i.field === field), `no issue names ${field}; got:\n${e.message}`);
      return true;
    });
  });
}
