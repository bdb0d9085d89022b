// The informer's cache and retry rules against a scripted list/watch source. The same informer
// runs against a real kube-apiserver (stopped and restarted) in test/cluster/controller.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DENIED_GRACE_MS, Informer } from '../../../src/kube/informer.ts';
import { KubeApiError } from '../../../src/kube/client.ts';
import type { ListWatchSource, WatchCallbacks, WatchEventType } from '../../../src/kube/list-watch.ts';
import type { KubeObject } from '../../../src/kube/resources.ts';

const log = pino({ level: 'silent' });

interface Obj extends KubeObject {
  data: string;
}

function obj(name: string, rv: string, data = name): Obj {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv }, data };
}

/** A watch the test drives: push events, then end it or fail it. */
interface OpenWatch {
  from: string;
  push(type: WatchEventType, o: Obj): void;
  end(): void;
  fail(e: unknown): void;
}

class ScriptedSource implements ListWatchSource<Obj> {
  lists: (() => { items: Obj[]; resourceVersion: string })[] = [];
  listCalls = 0;
  watchCalls: string[] = [];
  private waiters: ((w: OpenWatch) => void)[] = [];
  private opened: OpenWatch[] = [];

  async list(): Promise<{ items: Obj[]; resourceVersion: string }> {
    this.listCalls++;
    const next = this.lists.shift();
    if (!next) throw new Error('API server unreachable');
    return Promise.resolve(next());
  }

  watch(resourceVersion: string, cb: WatchCallbacks<Obj>, signal: AbortSignal): Promise<void> {
    this.watchCalls.push(resourceVersion);
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      cb.opened();
      const w: OpenWatch = { from: resourceVersion, push: (t, o) => cb.event(t, o), end: resolve, fail: reject };
      const waiter = this.waiters.shift();
      if (waiter) waiter(w);
      else this.opened.push(w);
    });
  }

  /** The next watch the informer opens. */
  nextWatch(): Promise<OpenWatch> {
    const w = this.opened.shift();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

function recorder(inf: Informer<Obj>): string[] {
  const seen: string[] = [];
  inf.on({
    add: (o) => seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion}`),
    update: (o, old) => seen.push(`update ${o.metadata.name}@${old.metadata.resourceVersion}->${o.metadata.resourceVersion}`),
    delete: (o) => seen.push(`delete ${o.metadata.name}`),
  });
  return seen;
}

const fast = { initialMs: 1, maxMs: 4, jitter: 0 };

test('lists, then follows the watch from the list resourceVersion', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1'), obj('b', '2')], resourceVersion: '10' }));
  const inf = new Informer(src, { name: 'things', log, backoff: fast });
  const seen = recorder(inf);
  inf.start();
  await inf.synced;
  assert.equal(inf.isSynced, true);
  assert.deepEqual(inf.list().map((o) => o.metadata.name).sort(), ['a', 'b']);
  const w = await src.nextWatch();
  assert.equal(w.from, '10');
  w.push('MODIFIED', obj('a', '11', 'changed'));
  w.push('MODIFIED', obj('b', '2')); // same version: no update
  w.push('ADDED', obj('c', '12'));
  w.push('DELETED', obj('b', '13'));
  w.push('BOOKMARK', { metadata: { name: '', resourceVersion: '14' }, data: '' });
  assert.equal(inf.get('ns', 'a')?.data, 'changed');
  assert.equal(inf.get('ns', 'b'), undefined);
  assert.deepEqual(seen, ['add a@1', 'add b@2', 'update a@1->11', 'add c@12', 'delete b']);
  w.end(); // the server's watch timeout: resume from the bookmark, no list
  const w2 = await src.nextWatch();
  assert.equal(w2.from, '14');
  assert.equal(src.listCalls, 1);
  await inf.stop();
});

test('transform: the cache and the handlers get only what it keeps, from lists and watches alike', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1', 'a-long-value')], resourceVersion: '10' }));
  const inf = new Informer(src, { name: 'things', log, backoff: fast, transform: (o: Obj) => ({ ...o, data: o.data.slice(0, 1) }) });
  const handed: string[] = [];
  inf.on({ add: (o) => handed.push(o.data), update: (o) => handed.push(o.data) });
  inf.start();
  await inf.synced;
  const w = await src.nextWatch();
  w.push('MODIFIED', obj('a', '11', 'zzz'));
  assert.deepEqual(inf.list().map((o) => o.data), ['z']);
  assert.deepEqual(handed, ['a', 'z']);
  await inf.stop();
});

test('a failed watch keeps the cache and resumes from the last resourceVersion', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1')], resourceVersion: '5' }));
  const errors: unknown[] = [];
  const inf = new Informer(src, { name: 'things', log, backoff: fast, onError: (e) => errors.push(e) });
  inf.start();
  const w = await src.nextWatch();
  w.push('ADDED', obj('b', '6'));
  w.fail(new Error('connection reset'));
  const w2 = await src.nextWatch();
  assert.equal(w2.from, '6');
  assert.equal(src.listCalls, 1);
  assert.deepEqual(inf.list().map((o) => o.metadata.name).sort(), ['a', 'b']);
  assert.equal(errors.length, 1);
  await inf.stop();
});

test('410 Gone re-lists at once and reports only the differences', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1'), obj('b', '2'), obj('c', '3')], resourceVersion: '5' }));
  src.lists.push(() => ({ items: [obj('a', '1'), obj('b', '7'), obj('d', '8')], resourceVersion: '9' }));
  const inf = new Informer(src, { name: 'things', log, backoff: { initialMs: 60_000, maxMs: 60_000 } });
  const seen = recorder(inf);
  inf.start();
  const w = await src.nextWatch();
  seen.length = 0;
  w.fail(new KubeApiError('WATCH', '/x', 410, 'Expired', 'too old resource version'));
  const w2 = await src.nextWatch(); // no 60 s backoff on the way
  assert.equal(w2.from, '9');
  assert.deepEqual(seen, ['delete c', 'update b@2->7', 'add d@8']);
  await inf.stop();
});

test('while the API server is gone the cache keeps its last contents (fail-static)', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1')], resourceVersion: '5' }));
  const errors: unknown[] = [];
  const inf = new Informer(src, { name: 'things', log, backoff: fast, onError: (e) => errors.push(e) });
  const seen = recorder(inf);
  inf.start();
  const w = await src.nextWatch();
  // Compaction while we were away: the watch says 410, and the re-list fails for a while.
  w.fail(new KubeApiError('WATCH', '/x', 410, 'Expired', 'too old'));
  while (errors.length < 3) await new Promise((r) => setTimeout(r, 2));
  assert.deepEqual(inf.list().map((o) => o.metadata.name), ['a']);
  assert.deepEqual(seen, ['add a@1']);
  src.lists.push(() => ({ items: [obj('a', '1'), obj('b', '20')], resourceVersion: '21' }));
  const w2 = await src.nextWatch();
  assert.equal(w2.from, '21');
  assert.deepEqual(seen, ['add a@1', 'add b@20']);
  assert.equal(inf.lastError, undefined);
  await inf.stop();
});

test('synced waits for the first successful list, retrying with backoff', async () => {
  const src = new ScriptedSource();
  const inf = new Informer(src, { name: 'things', log, backoff: fast });
  inf.start();
  while (src.listCalls < 3) await new Promise((r) => setTimeout(r, 2));
  assert.equal(inf.isSynced, false);
  assert.match(String(inf.lastError), /unreachable/);
  src.lists.push(() => ({ items: [obj('a', '1')], resourceVersion: '2' }));
  await inf.synced;
  assert.equal(inf.get('ns', 'a')?.data, 'a');
  await inf.stop();
});

test('a watch that ends at once without events backs off instead of spinning', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [], resourceVersion: '1' }));
  const inf = new Informer(src, { name: 'things', log, backoff: { initialMs: 50, maxMs: 50, jitter: 0 } });
  inf.start();
  const started = Date.now();
  for (let i = 0; i < 3; i++) (await src.nextWatch()).end();
  await src.nextWatch();
  assert.ok(Date.now() - started >= 140, `3 empty watches took only ${Date.now() - started} ms`);
  await inf.stop();
});

test('a handler that throws does not stop the others or the informer', async () => {
  const src = new ScriptedSource();
  src.lists.push(() => ({ items: [obj('a', '1')], resourceVersion: '1' }));
  const inf = new Informer(src, { name: 'things', log, backoff: fast });
  inf.on({ add: () => { throw new Error('bug'); } });
  const seen = recorder(inf);
  inf.start();
  const w = await src.nextWatch();
  w.push('ADDED', obj('b', '2'));
  assert.deepEqual(seen, ['add a@1', 'add b@2']);
  await inf.stop();
});

test('stop() ends the informer while it waits to retry', async () => {
  const src = new ScriptedSource();
  const inf = new Informer(src, { name: 'things', log, backoff: { initialMs: 60_000, maxMs: 60_000 } });
  inf.start();
  while (src.listCalls < 1) await new Promise((r) => setTimeout(r, 2));
  const t = Date.now();
  await inf.stop();
  assert.ok(Date.now() - t < 1000);
});

test('a refusal (401/403) counts as denied only once it has lasted DENIED_GRACE_MS: a restarting API server refuses for a moment', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const src = new ScriptedSource();
  let answer = (): { items: Obj[]; resourceVersion: string } => { throw new KubeApiError('GET', '/things', 403, 'Forbidden', 'things is forbidden'); };
  src.list = () => {
    src.listCalls++;
    return Promise.resolve().then(answer);
  };
  const inf = new Informer(src, { name: 'things', log, backoff: fast });
  inf.start();
  t.after(() => inf.stop());
  const calls = async (n: number): Promise<void> => {
    const until = src.listCalls + n;
    while (src.listCalls < until) await new Promise((r) => setTimeout(r, 2));
  };
  await calls(2);
  assert.equal(inf.isDenied, false, 'not at first');
  t.mock.timers.tick(DENIED_GRACE_MS - 1);
  await calls(2);
  assert.equal(inf.isDenied, false);
  t.mock.timers.tick(1);
  assert.equal(inf.isDenied, true, 'refused all along');

  answer = () => { throw new Error('API server unreachable'); };
  await calls(2);
  assert.equal(inf.isDenied, false, 'another failure ends the refusal');
  answer = () => { throw new KubeApiError('GET', '/things', 403, 'Forbidden', 'things is forbidden'); };
  await calls(2);
  assert.equal(inf.isDenied, false, 'a new refusal starts its own grace');
  answer = () => ({ items: [], resourceVersion: '1' });
  await inf.synced;
  t.mock.timers.tick(DENIED_GRACE_MS);
  assert.equal(inf.isDenied, false, 'a success ends it');
});
