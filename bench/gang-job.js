'use strict';
/* global performance */
// The bench's gang job (mpirun -np 6: scheduler, client, 4 worker ranks): the time from submit to
// every rank of a 4-rank gang running, and allreduce of 8 bytes and of 64 MiB inside the gang.
// Prints one GANGBENCH line of JSON.
const { execute } = require('../dist');

const now = () => performance.timeOrigin + performance.now();

execute(async (client) => {
  await client.submitWith({ ranks: 4 }, (comm) => comm.barrier()).result(); // warm
  const starts = [];
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    const at = await client
      .submitWith({ ranks: 4 }, async (comm) => {
        const t = performance.timeOrigin + performance.now();
        await comm.barrier();
        return t;
      })
      .result();
    starts.push(Math.max(...at) - t0);
  }
  starts.sort((a, b) => a - b);
  const [inside] = await client
    .submitWith({ ranks: 4 }, async (comm) => {
      const clock = () => performance.now();
      const times = [];
      const one = new Float64Array([comm.rank]);
      for (let i = 0; i < 1000; i++) {
        const t = clock();
        await comm.allreduce(one, 'sum');
        times.push(clock() - t);
      }
      times.sort((a, b) => a - b);
      // As the C program: both arrays on shared memory, the result's reused from call to call.
      const big = new Float64Array(new SharedArrayBuffer(64 * 2 ** 20)).fill(comm.rank);
      const out = new Float64Array(new SharedArrayBuffer(64 * 2 ** 20));
      let best = Infinity;
      let check = 0;
      for (let r = 0; r < 5; r++) {
        await comm.barrier();
        const t = clock();
        await comm.allreduce(big, 'sum', out);
        best = Math.min(best, clock() - t);
        check = out[out.length - 1];
      }
      return { smallUs: times[500] * 1000, bigMiBps: 64 / (best / 1000), check };
    })
    .result();
  process.stdout.write(`GANGBENCH ${JSON.stringify({ startMs: starts[10], ...inside })}\n`);
});
