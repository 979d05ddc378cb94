'use strict';
// MPI bootstrap figures: launch-to-ready, a trivial 6-rank job, and the floor measured alongside.
const { spawn } = require('node:child_process');
const path = require('node:path');

const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };
const MPIRUN = ['mpirun', ['--oversubscribe', '--bind-to', 'none', '-np', '6']];

function job(args) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(MPIRUN[0], [...MPIRUN[1], ...args], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const t1 = Date.now();
      if (code !== 0) return reject(new Error(`mpirun ${args.join(' ')} exited ${code}: ${err}`));
      const stamp = (name) => Number((new RegExp(`${name} (\\d+)`).exec(out) || [])[1]);
      resolve({
        wall: (t1 - t0) / 1000,
        ready: (stamp('READY') - t0) / 1000,
        exitAfterEnd: (t1 - stamp('END')) / 1000,
        stderr: err,
      });
    });
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** `dask`: the peer's figures from this run (bench/peer.js), or null. */
module.exports = async function mpiBench(reps = 5, dask = null) {
  const floor = [];
  const runs = [];
  for (let i = 0; i < reps; i++) {
    floor.push((await job([process.execPath, '-e', '0'])).wall);
    runs.push(await job([process.execPath, path.join(__dirname, 'trivial-job.js')]));
  }
  const f = median(floor);
  const wall = median(runs.map((r) => r.wall));
  const noisy = runs.filter((r) => r.stderr.length > 0).length;
  return [
    [
      'launch to ready, 4 workers (mpirun -np 6)',
      `${median(runs.map((r) => r.ready)).toFixed(2)} s`,
      '<= 0.3 s',
      // dask-mpi has no Debian package: the peer is dask.distributed's LocalCluster.
      dask
        ? `dask.distributed LocalCluster(4 workers), import to ready: ${dask.startSecs.toFixed(2)} s (dask-mpi is not packaged in Debian)`
        : 'dask-mpi 1.80 s (issue 23, another run)',
    ],
    [
      'trivial job: 6 ranks, 16 tasks, launch to exit',
      `${wall.toFixed(2)} s (${(wall / f).toFixed(2)}x floor)`,
      '<= 1.3x floor',
      `floor mpirun -np 6 node -e 0: ${f.toFixed(2)} s; dask-mpi (not packaged in Debian) 3.3-3.5 s in an earlier run`,
    ],
    [
      'script end to job exit',
      `${median(runs.map((r) => r.exitAfterEnd)).toFixed(3)} s`,
      '<= 0.3 s',
      '',
    ],
    ['runs that wrote to stderr', `${noisy} of ${reps}`, '0', 'dask-mpi: 16 error lines a run'],
  ];
};
