import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listing, nodesText } from '../../../src/controller/wording.ts';

test('names are listed as a sentence would list them', () => {
  assert.equal(listing([]), '');
  assert.equal(listing(['n1']), 'n1');
  assert.equal(listing(['n1', 'n2']), 'n1 and n2');
  assert.equal(listing(['n1', 'n2', 'n3']), 'n1, n2 and n3');
  assert.equal(nodesText(['n1']), 'node n1');
  assert.equal(nodesText(['n1', 'n2', 'n3']), 'nodes n1, n2 and n3');
});
