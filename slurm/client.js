// The client that slurm/2-scheduler-file.sbatch runs by default; a model for your own.
// It joins the cluster through the scheduler file, waits for the job's workers, maps a slow
// square over 16 inputs, prints the squares and shuts the cluster down, which ends the
// scheduler and worker steps of the job.
//   SCHEDULER_FILE=...json EXPECT_WORKERS=4 node slurm/client.js
const { Client } = require('..'); // in your project: require('mpi-cluster')

async function main() {
  const schedulerFile = process.env.SCHEDULER_FILE;
  if (!schedulerFile) throw new Error('set SCHEDULER_FILE to the scheduler file to join');
  const client = await Client.connect({ schedulerFile, timeout: 60_000 });
  await client.waitForWorkers(Number(process.env.EXPECT_WORKERS ?? 1), { timeout: 60_000 });
  const start = Date.now();
  const squares = await client.gather(
    client.map(
      async (x) => {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        return x * x;
      },
      Array.from({ length: 16 }, (_, i) => i),
    ),
  );
  const info = await client.schedulerInfo();
  console.log(squares.join(' '));
  console.log(
    `16 tasks on ${Object.keys(info.workers).length} workers in ${((Date.now() - start) / 1000).toFixed(2)} s`,
  );
  await client.shutdown();
}

main().catch((err) => {
  console.error(`client: ${err.code ? `[${err.code}] ` : ''}${err.message}`);
  process.exit(1);
});
