'use strict';
// Tasks that submit tasks (issue 22, item 4): fib(20) written with getClient() inside tasks,
// each task submitting fib(n-1) and fib(n-2) and waiting on them (21,891 tasks), on 1 worker with
// 1 thread (where only secede/rejoin keeps it from deadlocking) and on 4 workers with 1 thread.
// The floor: as many no-op tasks submitted flat from the script, on the same cluster.
const path = require('node:path');
const { Client, LocalCluster } = require('../dist');

const DIST = path.join(__dirname, '..', 'dist');
const N = 20;
const FIB = 6765;
/** Tasks in fib(n)'s tree: t(n) = 1 + t(n-1) + t(n-2), t(0) = t(1) = 1. */
const tasksOf = (n) => (n < 2 ? 1 : 1 + tasksOf(n - 1) + tasksOf(n - 2));

async function fib(n, dist) {
  if (n < 2) return n;
  const c = await require(dist).getClient();
  const [x, y] = await c.gather([c.submit(fib, n - 1, dist), c.submit(fib, n - 2, dist)]);
  return x + y;
}

const secondsSince = (t) => Number(process.hrtime.bigint() - t) / 1e9;

async function onCluster(nWorkers) {
  const cluster = await LocalCluster.start({ nWorkers, threadsPerWorker: 1 });
  const client = await Client.connect(cluster);
  try {
    // A first, smaller tree connects every thread's client before the measured one.
    await client.submit(fib, 10, DIST).result();
    let t = process.hrtime.bigint();
    if ((await client.submit(fib, N, DIST).result()) !== FIB) throw new Error('wrong fib');
    const nested = tasksOf(N) / secondsSince(t);
    t = process.hrtime.bigint();
    const flat = client.map(
      (x) => x,
      Array.from({ length: tasksOf(N) }, (_, i) => i),
    );
    await client.gather(flat);
    return { nested, flat: tasksOf(N) / secondsSince(t) };
  } finally {
    await client.close();
    await cluster.close();
  }
}

module.exports = async function taskClientBench() {
  const one = await onCluster(1);
  const four = await onCluster(4);
  const rate = (x) => `${Math.round(x)} tasks/s`;
  return [
    [
      `fib(${N}) via tasks that submit tasks (getClient, ${tasksOf(N)} tasks): 1 worker x 1 thread / 4 workers x 1 thread`,
      `${rate(one.nested)} / ${rate(four.nested)}`,
      'completes on 1 thread',
      `as many no-op tasks mapped from the script: ${rate(one.flat)} / ${rate(four.flat)}`,
    ],
  ];
};

if (require.main === module) {
  module.exports().then(
    (rows) => {
      for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
