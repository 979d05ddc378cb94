'use strict';
// npm run bench: figures for the README, each next to its floor measured in this same run.
const os = require('node:os');
const { Client, LocalCluster } = require('../dist');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const zmqFloor = require('./zmq-floor');
const bulkFloor = require('./bulk-floor');
const scale = require('./scale');

/** Scheduler heap per task at 1M tasks, measured in its own --expose-gc process. */
function schedulerMemory() {
  const out = execFileSync(
    process.execPath,
    ['--expose-gc', path.join(__dirname, 'scheduler-memory.js')],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

const ms = (x) => `${x.toFixed(3)} ms`;

/** Debian's Chromium, for the rows with the dashboard open in a browser (null: not installed). */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) =>
  require('node:fs').existsSync(f),
);

/**
 * Throughput, round trip and a large gather, with CurveZMQ on (the default) or off; with
 * `browser`, the dashboard open in headless Chromium meanwhile (and no large gather).
 */
async function runtime(security, browser = false) {
  const cluster = await LocalCluster.start({
    nWorkers: 4,
    threadsPerWorker: 1,
    ...(security ? {} : { security: false }),
  });
  const client = await Client.connect(cluster);
  let chromium = null;
  if (browser) {
    chromium = await require('playwright-core').chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox'],
    });
    const page = await chromium.newPage();
    await page.goto(client.dashboardLink);
    await page.waitForFunction(() => globalThis.dashboard.frames > 0);
  }
  const out = {};
  const n = 10_000;
  const rates = [];
  for (let rep = 0; rep < 5; rep++) {
    const t = process.hrtime.bigint();
    const fs = client.map(
      (x) => x,
      Array.from({ length: n }, (_, i) => i),
    );
    const r = await client.gather(fs);
    if (r.length !== n || r[n - 1] !== n - 1) throw new Error('wrong results');
    rates.push(n / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  out.tasksPerSec = Math.max(...rates);
  out.tasksPerSecMedian = [...rates].sort((a, b) => a - b)[2];
  const lat = [];
  for (let i = 0; i < 500; i++) {
    const t = process.hrtime.bigint();
    await client.submit((x) => x, i).result();
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  out.rttMs = lat[lat.length >> 1];
  // Best of three, as the floor: one 256 MiB transfer varies 2-4x from run to run here.
  const bytes = 256 * 2 ** 20;
  out.gatherMiBps = 0;
  for (let i = 0; i < (browser ? 0 : 3); i++) {
    const big = client.submit((n) => Buffer.alloc(n, 1), bytes);
    await client.wait([big]);
    const t = process.hrtime.bigint();
    const b = await big.result();
    const secs = Number(process.hrtime.bigint() - t) / 1e9;
    if (b.length !== bytes) throw new Error('wrong size');
    out.gatherMiBps = Math.max(out.gatherMiBps, bytes / 2 ** 20 / secs);
    big.release();
  }
  if (chromium) await chromium.close();
  await client.close();
  await cluster.close();
  return out;
}

async function main() {
  const extra = process.argv.slice(2);
  console.log(
    `mpi-cluster benchmark on ${os.cpus().length} cores (${os.cpus()[0].model}), node ${process.version}`,
  );
  const floor = await zmqFloor();
  // What each ZeroMQ security mechanism costs one large transfer by itself (issue 11's choice).
  const curveFloor = await zmqFloor({ roundTrips: 10, mechanism: 'curve' });
  const plainFloor = await zmqFloor({ roundTrips: 10, mechanism: 'plain' });
  // NULL sockets carrying pieces sealed with AES-256-GCM, as the bulk channel sends large values.
  const aesFloor = Math.max(...(await bulkFloor.measure('null+aes-gcm')));
  const r = await runtime(true);
  const off = await runtime(false);
  const cost = (on, plain) => `${Math.round((1 - on / plain) * 100)}%`;
  const rows = [
    [
      'map+gather, 10,000 no-op tasks, 4 workers (best of 5); security on / off',
      `${Math.round(r.tasksPerSec)} / ${Math.round(off.tasksPerSec)} tasks/s (median ${Math.round(r.tasksPerSecMedian)} / ${Math.round(off.tasksPerSecMedian)}); CURVE costs ${cost(r.tasksPerSec, off.tasksPerSec)}`,
      '>= 20,000; <= 10% for security',
      '~800 (dask.distributed)',
    ],
    [
      'submit -> result round trip, median; security on / off',
      `${ms(r.rttMs)} / ${ms(off.rttMs)}`,
      '<= 0.5 ms; <= 10% for security',
      `raw ZeroMQ RTT ${ms(floor.rttMs)}`,
    ],
    [
      'one 256 MiB result gathered (best of 3); security on / off',
      `${Math.round(r.gatherMiBps)} / ${Math.round(off.gatherMiBps)} MiB/s; security (sealed on the bulk channel) costs ${cost(r.gatherMiBps, off.gatherMiBps)}`,
      '>= 600 MiB/s',
      `raw ZeroMQ fetch ${Math.round(floor.mibPerSec)} MiB/s`,
    ],
    [
      'raw ZeroMQ 256 MiB fetch (best of 3) by security mechanism: NULL / CURVE / PLAIN / NULL + AES-256-GCM',
      `${Math.round(floor.mibPerSec)} / ${Math.round(curveFloor.mibPerSec)} / ${Math.round(plainFloor.mibPerSec)} / ${Math.round(aesFloor)} MiB/s`,
      'CURVE: what encrypting every byte costs',
      'PLAIN: a password in clear, no encryption; AES-GCM: the bulk channel (bench/bulk-floor.js)',
    ],
  ];
  if (CHROMIUM) {
    const open = await runtime(true, true);
    rows.push([
      'map+gather 10,000 tasks (best of 5) / round trip, with the dashboard open in Chromium',
      `${Math.round(open.tasksPerSec)} tasks/s (${cost(open.tasksPerSec, r.tasksPerSec)} below closed) / ${ms(open.rttMs)}`,
      '<= 5% cost',
      `closed: ${Math.round(r.tasksPerSec)} tasks/s / ${ms(r.rttMs)}`,
    ]);
  }
  rows.push(...(await scale()));
  rows.push(...(await require('./memory')()));
  const mem = schedulerMemory();
  rows.push([
    'scheduler memory per task at 1M tasks: pending / finished and held',
    `${Math.round(mem.pending)} / ${Math.round(mem.held)} bytes/task`,
    '<= 1 KiB pending',
    '',
  ]);
  rows.push([
    'while 1M submits reach the scheduler: longest event-loop block / one message handled / GC pause',
    `${Math.round(mem.maxBlockMs)} / ${Math.round(mem.maxStepMs)} / ${Math.round(mem.maxGcMs)} ms`,
    '~50 ms',
    '',
  ]);
  rows.push(...(await require('./graph')())); // delayed graphs (issue 22)
  rows.push(...(await require('./task-client')())); // tasks that submit tasks (issue 22)
  if (!extra.includes('--no-mpi')) {
    const mpi = require('./mpi');
    rows.push(...(await mpi()));
    rows.push(...(await require('./gangs')()));
  }
  console.log('\n| measure | mpi-cluster | target | floor / peer |\n|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
