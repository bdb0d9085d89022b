import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../../../src/api/duration.ts';

test('parses Kubernetes-style durations', () => {
  const cases: [string, number | undefined][] = [
    ['1s', 1000], ['100ms', 100], ['1.5s', 1500], ['2m', 120_000], ['1m30s', 90_000], ['1h', 3_600_000], ['0', 0], ['0s', 0],
    ['', undefined], ['s', undefined], ['10', undefined], ['1 s', undefined], ['-1s', undefined], ['1d', undefined], ['1s ', undefined],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});
