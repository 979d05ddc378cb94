'use strict';
// Memory rows of `npm run bench` (issue 20), each next to its floor measured in this same run:
// - the spill store's write and read rates against plain fs writes and reads of the same bytes;
// - a workload whose data is 3x the cluster's memory limit (1.5 GB in 8 MB values) against the
//   same with room enough;
// - one 1 GiB value client -> worker -> client against raw ZeroMQ moving the same bytes.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client, LocalCluster } = require('../dist');
const { SpillStore } = require('../dist/worker/spill');
const zmqFloor = require('./zmq-floor');

const MiB = 2 ** 20;
const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;

/**
 * 512 MiB in 16 MiB values through the spill store and plainly through fs, in the same
 * directory, alternating and best of 3 each (the page cache's write-back makes one pass vary).
 */
async function spillRates() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-spill-'));
  const values = Array.from({ length: 32 }, (_, i) => [Buffer.alloc(16 * MiB, i)]);
  const total = 512;
  const best = { write: 0, read: 0, fsWrite: 0, fsRead: 0 };
  const time = async (name, fn) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < values.length; i++) await fn(i);
    best[name] = Math.max(best[name], total / secs(t));
  };
  try {
    const store = SpillStore.create(path.join(dir, 'store'));
    const plain = path.join(dir, 'plain');
    fs.mkdirSync(plain);
    for (let round = 0; round < 3; round++) {
      await time('fsWrite', (i) => fs.promises.writeFile(path.join(plain, `${i}`), values[i][0]));
      await time('fsRead', (i) => fs.promises.readFile(path.join(plain, `${i}`)));
      for (let i = 0; i < values.length; i++) fs.rmSync(path.join(plain, `${i}`));
      await time('write', (i) => store.write(`k${i}`, values[i]));
      await time('read', (i) => store.read(`k${i}`));
      for (let i = 0; i < values.length; i++) store.remove(`k${i}`);
    }
    return best;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The 3x-over workload: 192 values of 8 MB (1.5 GB) on 2 workers of 256 MB each. */
const VALUES = 192;
const VALUE_BYTES = 8e6;
/** A run that has not ended by then is reported as a failure of the bench, not waited on. */
const WORKLOAD_DEADLINE_MS = 300_000;

/** VALUES values of VALUE_BYTES made and each read by a task, on 2 workers with `memoryLimit`. */
async function workload(memoryLimit) {
  const cluster = await LocalCluster.start({ nWorkers: 2, memoryLimit, dashboardAddress: false });
  const client = await Client.connect(cluster);
  let timer;
  try {
    const t = process.hrtime.bigint();
    const values = client.map(
      (i, n) => Buffer.alloc(n, i % 256),
      [...Array(VALUES).keys()],
      Array(VALUES).fill(VALUE_BYTES),
    );
    const firsts = await Promise.race([
      client.gather(values.map((v) => client.submit((b) => b[0], v))),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `memory workload (${memoryLimit} workers) not done after ${WORKLOAD_DEADLINE_MS / 1000} s`,
              ),
            ),
          WORKLOAD_DEADLINE_MS,
        );
      }),
    ]);
    if (firsts.some((x, i) => x !== i % 256)) throw new Error('wrong results');
    const s = secs(t);
    const info = await client.schedulerInfo();
    const spilled = Object.values(info.workers).reduce((a, w) => a + (w.spilledCount ?? 0), 0);
    return { s, spilled };
  } finally {
    clearTimeout(timer);
    await client.close();
    await cluster.close();
  }
}

/** One 1 GiB value scattered to a worker and gathered back. */
async function gigabyte() {
  const cluster = await LocalCluster.start({
    nWorkers: 1,
    memoryLimit: false,
    dashboardAddress: false,
  });
  const client = await Client.connect(cluster);
  try {
    const value = Buffer.alloc(2 ** 30, 7);
    const t = process.hrtime.bigint();
    const [f] = await client.scatter([value]);
    const back = await f.result();
    const s = secs(t);
    if (back.length !== value.length || back[12345] !== 7) throw new Error('wrong bytes');
    return (2 * 1024) / s;
  } finally {
    await client.close();
    await cluster.close();
  }
}

module.exports = async function memoryRows() {
  const rates = await spillRates();
  const tight = await workload('256MB');
  const roomy = await workload('8GB');
  const gib = await gigabyte();
  const floor = await zmqFloor({ roundTrips: 10, bytes: 2 ** 30, fetches: 1, mechanism: 'curve' });
  return [
    [
      'spill store, 512 MiB in 16 MiB values (best of 3): write / read',
      `${Math.round(rates.write)} / ${Math.round(rates.read)} MiB/s (${(rates.write / rates.fsWrite).toFixed(2)} / ${(rates.read / rates.fsRead).toFixed(2)} of plain fs)`,
      '>= 0.7 of plain fs',
      `plain fs writeFile / readFile: ${Math.round(rates.fsWrite)} / ${Math.round(rates.fsRead)} MiB/s`,
    ],
    [
      `${VALUES} x ${VALUE_BYTES / 1e6} MB made and read by tasks on 2 workers: 256 MB each (3x over) / 8 GB each`,
      `${tight.s.toFixed(1)} s (${tight.spilled} values or copies on disk at the end) / ${roomy.s.toFixed(1)} s: ${(tight.s / roomy.s).toFixed(2)}x`,
      '<= 2x',
      '',
    ],
    [
      'one 1 GiB value client -> worker -> client (CURVE)',
      `${Math.round(gib)} MiB/s`,
      '',
      `raw ZeroMQ 1 GiB fetch with CURVE ${Math.round(floor.mibPerSec)} MiB/s`,
    ],
  ];
};

if (require.main === module) {
  module.exports().then((rows) => {
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  });
}
