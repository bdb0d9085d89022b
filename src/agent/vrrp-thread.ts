// Entry point of the VRRP thread (a worker_threads Worker). It runs the sans-I/O routers on the
// native sockets and nothing else, so VRRP timing never waits on config parsing, checks,
// metrics scrapes or logging in the main thread.
import { parentPort } from 'node:worker_threads';
import type { FromVrrpThread, ToVrrpThread } from './messages.ts';
import { VrrpEngine } from './vrrp-engine.ts';
import { SignalWatch } from '../net/signal-watch.ts';

if (!parentPort) throw new Error('vrrp-thread.ts must run as a worker thread');
const port = parentPort;
const post = (m: FromVrrpThread): void => port.postMessage(m);
const engine = new VrrpEngine(post);

let stopping: Promise<void> | undefined;
function shutdown(): Promise<void> {
  stopping ??= engine.shutdown().then(() => {
    sigterm.close();
    post({ type: 'stopped' });
    port.close();
  });
  return stopping;
}

// SIGTERM reaches this thread directly: the priority-0 adverts leave before the main thread
// has even run its handler. The main thread's 'shutdown' message then finds us stopping.
const sigterm = new SignalWatch('SIGTERM', () => void shutdown());

port.on('message', (m: ToVrrpThread) => {
  switch (m.type) {
    case 'configure':
      if (!stopping) void engine.configure(m.plans).then(() => post({ type: 'configured' }));
      break;
    case 'track':
      engine.setTrack(m.instance, m.track, m.up);
      break;
    case 'shutdown':
      void shutdown();
      break;
  }
});

const snapshots = setInterval(() => post(engine.snapshot()), 1000);
snapshots.unref();
