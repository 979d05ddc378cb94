'use strict';
// Growth figures: per-task cost of map+gather from 1k to 1M tasks, a 100,000-long chain and a
// 100,000-leaf tree reduction, on the same LocalCluster as the other runtime rows.
const { Client, LocalCluster } = require('../dist');

const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function mapGather(client, n) {
  const t = process.hrtime.bigint();
  const fs = client.map(
    (x) => x,
    Array.from({ length: n }, (_, i) => i),
  );
  const r = await client.gather(fs);
  const s = secs(t);
  if (r.length !== n || r[n - 1] !== n - 1) throw new Error('wrong results');
  for (const f of fs) f.release();
  return (s / n) * 1e6;
}

async function chain(client, n) {
  const t = process.hrtime.bigint();
  let f = client.submit((x) => x, 0);
  for (let i = 0; i < n; i++) f = client.submit((x) => x + 1, f);
  if ((await f.result()) !== n) throw new Error('wrong chain result');
  f.release();
  return (n + 1) / secs(t);
}

async function tree(client, leaves) {
  const t = process.hrtime.bigint();
  let level = client.map(
    (x) => x,
    Array.from({ length: leaves }, (_, i) => i),
  );
  let tasks = leaves;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      next.push(
        i + 1 < level.length ? client.submit((a, b) => a + b, level[i], level[i + 1]) : level[i],
      );
    }
    tasks += level.length >> 1;
    level = next;
  }
  if ((await level[0].result()) !== (leaves * (leaves - 1)) / 2) throw new Error('wrong sum');
  return tasks / secs(t);
}

/** Rows for the README's table. */
module.exports = async function scale() {
  const cluster = await LocalCluster.start({ nWorkers: 4, threadsPerWorker: 1 });
  const client = await Client.connect(cluster);
  const cost = {};
  for (const [n, reps] of [
    [1_000, 5],
    [10_000, 5],
    [100_000, 1],
    [1_000_000, 1],
  ]) {
    const runs = [];
    for (let i = 0; i < reps; i++) runs.push(await mapGather(client, n));
    cost[n] = median(runs);
  }
  const chainRate = await chain(client, 100_000);
  const treeRate = await tree(client, 100_000);
  await client.close();
  await cluster.close();
  const us = (x) => `${x.toFixed(1)} us/task`;
  return [
    [
      'map+gather per task: 1k / 10k tasks (median of 5)',
      `${us(cost[1000])} / ${us(cost[10000])}`,
      '',
      '',
    ],
    [
      'map+gather per task: 100k / 1M tasks (one run each)',
      `${us(cost[100000])} / ${us(cost[1000000])}`,
      '',
      '200-1000 us/task (dask.distributed)',
    ],
    ['per-task cost, 1M / 10k', `${(cost[1000000] / cost[10000]).toFixed(2)}x`, '<= 1.5x', ''],
    ['100,000-long chain', `${Math.round(chainRate)} tasks/s`, '', ''],
    ['tree reduction of 100,000 leaves (199,999 tasks)', `${Math.round(treeRate)} tasks/s`, '', ''],
  ];
};
