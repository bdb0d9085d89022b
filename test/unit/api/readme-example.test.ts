// The README's config file example must stay a valid config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseResources } from '../../../src/api/documents.ts';

test('the README config example parses', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /## The config file\s+```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README has a "The config file" yaml block');
  const set = parseResources(block, 'README.md');
  assert.deepEqual(set.vrrpInstances.map((i) => i.name), ['web']);
  assert.deepEqual(set.virtualServers.map((v) => v.name), ['web']);
});
