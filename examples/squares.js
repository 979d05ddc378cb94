// 16 inputs, each task sleeps 1 s and squares its input: with 8 workers, about 2 s.
//   mpirun -np 10 node dist/mpi-init.js examples/squares.js       (8 workers)
//   mpirun -np 10 node examples/squares.js                          (same, via initialize())
const { initialize } = require('..');

async function main() {
  const client = await initialize({ interface: process.env.MPI_CLUSTER_INTERFACE });
  const start = Date.now();
  const futures = client.map(
    async (x) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return x * x;
    },
    Array.from({ length: 16 }, (_, i) => i),
  );
  const squares = await client.gather(futures);
  console.log(squares.join(' '));
  console.log(
    `16 tasks on ${Object.keys((await client.schedulerInfo()).workers).length} workers in ${((Date.now() - start) / 1000).toFixed(2)} s`,
  );
}

main();
