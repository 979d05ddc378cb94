'use strict';
// One 256 MiB result gathered by a client of a LocalCluster (2 workers x 1 thread), three times,
// with security on (the default: since issue 23 item 4, sealed on the bulk channel) or off.
// Run: node bench/bulk-gather.js on|off; DIST=<a build's dist folder> measures another build.
const path = require('node:path');
const { Client, LocalCluster } = require(process.env.DIST ?? path.join(__dirname, '..', 'dist'));

(async () => {
  const security = process.argv[2] !== 'off';
  const cluster = await LocalCluster.start({
    nWorkers: 2,
    threadsPerWorker: 1,
    dashboardAddress: false,
    ...(security ? {} : { security: false }),
  });
  const client = await Client.connect(cluster);
  const bytes = 256 * 2 ** 20;
  const rates = [];
  for (let i = 0; i < 3; i++) {
    const big = client.submit(
      (n, seed) => {
        const b = Buffer.alloc(n);
        for (let j = 0; j < n; j += 4096) b[j] = (j / 4096 + seed) & 255;
        return b;
      },
      bytes,
      i,
    );
    await client.wait([big]);
    const t = process.hrtime.bigint();
    const b = await big.result();
    const secs = Number(process.hrtime.bigint() - t) / 1e9;
    if (b.length !== bytes || b[4096 * 7] !== ((7 + i) & 255)) throw new Error('wrong bytes');
    rates.push(Math.round(bytes / 2 ** 20 / secs));
    big.release();
  }
  console.log(`security ${security ? 'on ' : 'off'}: ${rates.join(' ')} MiB/s`);
  await client.close();
  await cluster.close();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
