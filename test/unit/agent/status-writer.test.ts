// Status writes: latest body wins per object, one write in flight per object, nothing written
// twice, urgent objects first, backoff while the API server fails and catch-up afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { StatusWriter } from '../../../src/agent/status-writer.ts';
import { KubeApiError } from '../../../src/kube/client.ts';

interface Call {
  key: string;
  body: number;
  finish: (e?: Error) => void;
}

/** An API server whose answers the test gives one by one. */
function server(): { calls: Call[]; writer: StatusWriter<number> } {
  const calls: Call[] = [];
  const writer = new StatusWriter<number>({
    log: pino({ level: 'silent' }),
    concurrency: 2,
    backoff: { initialMs: 20, maxMs: 40, jitter: 0 },
    write: (key, body) => new Promise<void>((resolve, reject) => {
      calls.push({ key, body, finish: (e) => (e ? reject(e) : resolve()) });
    }),
  });
  return { calls, writer };
}

const tick = (): Promise<void> => sleep(1);

test('a burst of changes to one object is one write in flight, then only the latest body', async () => {
  const { calls, writer } = server();
  writer.set('a', 1);
  for (let i = 2; i <= 100; i++) writer.set('a', i);
  assert.deepEqual(calls.map((c) => [c.key, c.body]), [['a', 1]]);
  calls[0]?.finish();
  await tick();
  assert.deepEqual(calls.map((c) => [c.key, c.body]), [['a', 1], ['a', 100]]);
  calls[1]?.finish();
  await tick();
  writer.set('a', 100);
  assert.equal(calls.length, 2, 'what the API server has is not written again');
  assert.equal(writer.pending, 0);
});

test('urgent objects go first; at most `concurrency` writes at once', async () => {
  const { calls, writer } = server();
  writer.set('vs1', 1);
  writer.set('vs2', 1);
  writer.set('vs3', 1);
  writer.set('vi', 1, true);
  assert.deepEqual(calls.map((c) => c.key), ['vs1', 'vs2']);
  calls[0]?.finish();
  await tick();
  assert.deepEqual(calls.map((c) => c.key), ['vs1', 'vs2', 'vi']);
});

test('failures pause every write with backoff; the latest bodies catch up when the server is back', async () => {
  const { calls, writer } = server();
  writer.set('a', 1);
  writer.set('b', 1);
  const down = new KubeApiError('PATCH', '/x', 503, 'ServiceUnavailable', 'down');
  calls[0]?.finish(down);
  calls[1]?.finish(down);
  await tick();
  writer.set('a', 2);
  writer.set('c', 1);
  await tick();
  assert.equal(calls.length, 2, 'nothing is sent while paused');
  await sleep(60);
  assert.deepEqual(calls.slice(2).map((c) => [c.key, c.body]).sort(), [['a', 2], ['b', 1]]);
  calls[2]?.finish();
  calls[3]?.finish();
  await tick();
  assert.deepEqual(calls.slice(4).map((c) => [c.key, c.body]), [['c', 1]]);
  calls[4]?.finish();
  assert.equal(await writer.flush(100), true);
});

test('a deleted object is forgotten; flush gives up at its deadline', async () => {
  const { calls, writer } = server();
  writer.set('gone', 1);
  calls[0]?.finish(new KubeApiError('PATCH', '/x', 404, 'NotFound', 'not found'));
  await tick();
  assert.equal(writer.pending, 0);
  writer.set('slow', 1);
  const started = Date.now();
  assert.equal(await writer.flush(50), false);
  assert.ok(Date.now() - started >= 45);
  calls[1]?.finish();
  writer.stop();
});
