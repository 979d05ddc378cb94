'use strict';
// The client alone in its process (issue 23, the 300k-task map row): a scheduler and 4 workers
// started from the CLIs with a scheduler file, this process only the client. A map+gather of N
// (default 300,000) scalar tasks: how long `map` took to return, the whole map+gather, the
// client's peak RSS and heap used (sampled every 50 ms), and its heap per key after a full GC
// once every result is in and after the gather. Run with --expose-gc; DIST=<a dist/ folder>
// measures another build.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const dist = process.env.DIST ?? path.join(__dirname, '..', 'dist');
const { Client } = require(dist);
const N = Number(process.env.N ?? 300_000);

async function main() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-memory-'));
  const file = path.join(dir, 'scheduler.json');
  const cli = (name, args) =>
    spawn(process.execPath, [path.join(dist, 'cli', name), ...args], { stdio: 'ignore' });
  const kids = [
    cli('scheduler.js', ['--scheduler-file', file, '--host', '127.0.0.1', '--no-dashboard']),
  ];
  for (let i = 0; i < 4; i++) kids.push(cli('worker.js', ['--scheduler-file', file]));
  try {
    const client = await Client.connect({ schedulerFile: file });
    await client.waitForWorkers(4);
    const args = Array.from({ length: N }, (_, i) => i);
    const heap = () => {
      globalThis.gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heap();
    let rss = 0;
    let heapPeak = 0;
    const sample = setInterval(() => {
      rss = Math.max(rss, process.memoryUsage.rss());
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }, 50);
    const t = performance.now();
    const futures = client.map((x) => x, args);
    const mapCallS = (performance.now() - t) / 1e3;
    await client.wait(futures);
    const settled = (heap() - before) / N;
    const results = await client.gather(futures);
    const totalS = (performance.now() - t) / 1e3;
    clearInterval(sample);
    const gathered = (heap() - before) / N;
    if (results[N - 1] !== N - 1) throw new Error('wrong results');
    const mib = (b) => Math.round(b / 2 ** 20);
    const out = {
      mapCallS: Number(mapCallS.toFixed(2)),
      totalS: Number(totalS.toFixed(2)),
      peakRssMiB: mib(rss),
      peakHeapMiB: mib(heapPeak),
      heapPerKeySettled: Math.round(settled),
      heapPerKeyGathered: Math.round(gathered),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    await client.shutdown();
  } finally {
    for (const k of kids) k.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
