'use strict';
// Per-task figures of issue 23 (items 3 and 5) on one LocalCluster (4 workers x 1 thread):
// submit -> result round trip (median of 250), a chain of CHAIN no-op tasks, map+gather of 10,000
// (best of 3), and a map of BIG scalar tasks: how long `client.map` itself took, the whole
// map+gather, the longest event-loop block meanwhile and the process's peak resident memory
// (client and scheduler share this process). DIST=<a dist/ folder> measures another build, so
// two builds can be run alternately on a loaded machine.
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { Client, LocalCluster } = require(process.env.DIST ?? path.join(__dirname, '..', 'dist'));

const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const what = (process.env.WHAT ?? 'rtt,chain,map,big').split(',');
  const cluster = await LocalCluster.start({
    nWorkers: 4,
    threadsPerWorker: 1,
    dashboardAddress: false,
  });
  const client = await Client.connect(cluster);
  await client.gather(client.map((x) => x, [1, 2, 3, 4]));
  const out = {};
  if (what.includes('rtt')) {
    const xs = [];
    for (let i = 0; i < 300; i++) {
      const t = process.hrtime.bigint();
      const f = client.submit((x) => x, i);
      await f.result();
      xs.push(secs(t) * 1e3);
      f.release();
    }
    out.rttMs = Number(median(xs.slice(50)).toFixed(3));
  }
  if (what.includes('chain')) {
    const n = Number(process.env.CHAIN ?? 20_000);
    const t = process.hrtime.bigint();
    let f = client.submit((x) => x, 0);
    for (let i = 0; i < n; i++) f = client.submit((x) => x + 1, f);
    if ((await f.result()) !== n) throw new Error('wrong chain result');
    out.chainTasksPerSec = Math.round((n + 1) / secs(t));
  }
  if (what.includes('map')) {
    let best = 0;
    for (let k = 0; k < 3; k++) {
      const n = 10_000;
      const t = process.hrtime.bigint();
      const fs = client.map(
        (x) => x,
        Array.from({ length: n }, (_, i) => i),
      );
      const r = await client.gather(fs);
      best = Math.max(best, n / secs(t));
      if (r[n - 1] !== n - 1) throw new Error('wrong results');
      for (const f of fs) f.release();
    }
    out.map10kTasksPerSec = Math.round(best);
  }
  if (what.includes('big')) {
    const n = Number(process.env.BIG ?? 300_000);
    const args = Array.from({ length: n }, (_, i) => i);
    let peak = process.memoryUsage.rss();
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const t = process.hrtime.bigint();
    const fs = client.map((x) => x, args);
    out.bigMapCallS = Number(secs(t).toFixed(2));
    const r = await client.gather(fs);
    out.bigTotalS = Number(secs(t).toFixed(2));
    delay.disable();
    clearInterval(sample);
    out.bigMaxBlockMs = Math.round(delay.max / 1e6);
    out.bigPeakRssMiB = Math.round(peak / 2 ** 20);
    if (r[n - 1] !== n - 1) throw new Error('wrong results');
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await client.close();
  await cluster.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
