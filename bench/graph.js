'use strict';
// Lazy graph figures (issue 22), each next to its floor in the same run: a 100,000-node delayed
// tree reduction with compute against the same tree built with submit, and chains of no-op
// functions with fusion against without.
const { Client, LocalCluster, delayed } = require('../dist');

const inc = (x) => x + 1;
const add = (a, b) => a + b;
const LEAVES = 50_000; // 99,999 tasks in all
const EXPECTED = (LEAVES * (LEAVES + 1)) / 2;

const secondsSince = (t) => Number(process.hrtime.bigint() - t) / 1e9;

/** Pairs up a level until one is left; `join` makes a parent of two. */
function reduce(level, join) {
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(join(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

async function treeDelayed() {
  const t = process.hrtime.bigint();
  const lazyInc = delayed(inc);
  const lazyAdd = delayed(add);
  const top = reduce(
    Array.from({ length: LEAVES }, (_, i) => lazyInc(i)),
    (a, b) => lazyAdd(a, b),
  );
  const built = secondsSince(t);
  if ((await top.compute()) !== EXPECTED) throw new Error('wrong tree sum (delayed)');
  return { wall: secondsSince(t), built };
}

async function treeSubmit(client) {
  const t = process.hrtime.bigint();
  const top = reduce(
    Array.from({ length: LEAVES }, (_, i) => client.submit(inc, i)),
    (a, b) => client.submit(add, a, b),
  );
  if ((await top.result()) !== EXPECTED) throw new Error('wrong tree sum (submit)');
  return { wall: secondsSince(t) };
}

/** `chains` independent chains of `length` no-op steps, computed together. */
async function chains(chains, length, optimizeGraph) {
  const step = delayed((x) => x);
  const t = process.hrtime.bigint();
  const ends = [];
  for (let c = 0; c < chains; c++) {
    let x = step(c);
    for (let i = 1; i < length; i++) x = step(x);
    ends.push(x);
  }
  const out = await delayed(ends).compute({ optimizeGraph });
  if (out.length !== chains || out[chains - 1] !== chains - 1) throw new Error('wrong chains');
  return secondsSince(t);
}

const best = (xs) => Math.min(...xs);

module.exports = async function graphBench() {
  const cluster = await LocalCluster.start({ nWorkers: 4, threadsPerWorker: 1 });
  const client = await Client.connect(cluster); // node.compute() uses it: the last connected
  const lazy = [];
  const eager = [];
  for (let rep = 0; rep < 3; rep++) {
    lazy.push(await treeDelayed());
    eager.push(await treeSubmit(client));
  }
  const lazyBest = lazy.reduce((a, b) => (b.wall < a.wall ? b : a));
  const eagerBest = best(eager.map((r) => r.wall));
  const tasks = 2 * LEAVES - 1;
  const long = { fused: [], plain: [] };
  const short = { fused: [], plain: [] };
  for (let rep = 0; rep < 3; rep++) {
    long.fused.push(await chains(1, 10_000, true));
    long.plain.push(await chains(1, 10_000, false));
    short.fused.push(await chains(2_000, 5, true));
    short.plain.push(await chains(2_000, 5, false));
  }
  await client.close();
  await cluster.close();
  const ms = (s) => `${Math.round(s * 1000)} ms`;
  const x = (a, b) => `${(a / b).toFixed(1)}x`;
  return [
    [
      'delayed tree reduction, 99,999 tasks in one compute, 4 workers (best of 3; graph built in the time)',
      `${Math.round(tasks / lazyBest.wall)} tasks/s (${ms(lazyBest.built)} of ${ms(lazyBest.wall)} building the graph)`,
      'faster than submit',
      `the same tree with submit: ${Math.round(tasks / eagerBest)} tasks/s`,
    ],
    [
      'delayed chain of 10,000 no-op functions, compute (best of 3): fused / not fused',
      `${ms(best(long.fused))} / ${ms(best(long.plain))} (${x(best(long.plain), best(long.fused))} faster fused)`,
      'fused faster',
      'not fused: a scheduler round trip per link',
    ],
    [
      '2,000 delayed chains of 5 no-op functions, one compute (best of 3): fused / not fused',
      `${ms(best(short.fused))} / ${ms(best(short.plain))} (${x(best(short.plain), best(short.fused))} faster fused)`,
      'fused no slower',
      'short chains: where fusion could cost more than it saves',
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
