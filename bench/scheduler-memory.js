'use strict';
// Scheduler memory per task at 1,000,000 tasks: a real Scheduler in this process (run with
// --expose-gc), fed over its socket by a bare client (a DEALER with the project's Outbox), so no
// client state shares the heap. Pending: every task queued (no worker yet). Held: every task
// finished, its result on a worker and wanted by the client. The figure is V8 heap used after a
// full GC, less the heap before the first submit, divided by the count.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { PerformanceObserver, monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { Scheduler } = require('../dist');
const { Outbox, dealer } = require('../dist/net');
const { pack } = require('../dist/protocol');

const N = Number(process.env.N ?? 1_000_000);

const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};

async function until(check) {
  while (!check()) await new Promise((r) => setTimeout(r, 100));
}

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const scheduler = await Scheduler.start({ local: true });
  const socket = dealer(scheduler.keys, 'bench-client');
  socket.connect(scheduler.address);
  const drain = (async () => {
    for await (const _ of socket); // notices are read and dropped, as a client would
  })();
  const out = new Outbox(socket, false, 'bench client');
  out.post('', { t: 'hello-client', id: 'bench-client', name: 'bench' });
  const spec = { kind: 'source', source: '(x) => x + 1', name: 'inc' };
  out.post('', { t: 'define-fn', id: 'fn-inc', spec });
  await until(() => scheduler.core.clients.size === 1);
  // Heartbeats, as a client sends them: a silent client is dropped after 30 s with its keys.
  const beat = setInterval(() => out.post('', { t: 'heartbeat' }), 2000);
  const before = heap();
  for (let j = 0; j < N; j++) {
    const frames = pack([j]);
    const key = `inc-${j.toString(16).padStart(8, '0')}-${'0'.repeat(24)}`;
    const task = { key, fn: 'fn-inc', deps: [], priority: 0, retries: 0, nf: frames.length };
    out.post('', { t: 'submit', task }, frames);
  }
  // From here the Outbox encodes and sends, the scheduler reads and handles: the longest time
  // the event loop was held while the million submits went through, the longest the scheduler
  // spent on one message, and the longest garbage-collection pause, each on its own.
  let maxStepMs = 0;
  const onMessage = scheduler.onMessage.bind(scheduler);
  scheduler.onMessage = (parts) => {
    const t = performance.now();
    onMessage(parts);
    maxStepMs = Math.max(maxStepMs, performance.now() - t);
  };
  let maxGcMs = 0;
  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) maxGcMs = Math.max(maxGcMs, e.duration);
  });
  gcs.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  await until(() => scheduler.core.tasks.size === N);
  delay.disable();
  gcs.disconnect();
  const maxBlockMs = delay.max / 1e6;
  const pending = (heap() - before) / N;
  const workerJs = path.join(__dirname, '..', 'dist', 'cli', 'worker.js');
  const worker = spawn(process.execPath, [workerJs, scheduler.address], {
    stdio: 'inherit',
    env: { ...process.env, MPI_CLUSTER_KEYS: JSON.stringify(scheduler.keys) },
  });
  await until(() => (scheduler.core.counts().memory ?? 0) === N);
  const held = (heap() - before) / N;
  clearInterval(beat);
  worker.kill('SIGTERM');
  await scheduler.close();
  out.close();
  socket.close();
  await drain.catch(() => {});
  process.stdout.write(JSON.stringify({ pending, held, maxBlockMs, maxStepMs, maxGcMs }) + '\n');
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
