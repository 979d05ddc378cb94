'use strict';
// Gang task figures (issue 21), each next to its floor in the same run: allreduce inside a 4-rank
// gang against the same calls in a plain 4-rank C program (bench/allreduce.c, built here with
// mpicc), and submit-to-running against `mpirun -np 4` of a no-op MPI program (a launch per task,
// as Parsl's MPI mode and executorlib do).
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1' };
const MPIRUN = (np) => ['mpirun', ['--oversubscribe', '--bind-to', 'none', '-np', String(np)]];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function mpirun(np, args) {
  const [cmd, base] = MPIRUN(np);
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, [...base, ...args], { env, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`mpirun ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { wall, stdout: r.stdout };
}

module.exports = async function gangBench() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gang-bench-'));
  const exe = path.join(dir, 'allreduce');
  execFileSync('mpicc', ['-O2', '-o', exe, path.join(__dirname, 'allreduce.c')]);
  const plain = JSON.parse(mpirun(4, [exe]).stdout.trim().split('\n').pop());
  const launch = median(Array.from({ length: 5 }, () => mpirun(4, [exe, 'noop']).wall));
  const job = mpirun(6, [process.execPath, path.join(__dirname, 'gang-job.js')]);
  const line = job.stdout.split('\n').find((l) => l.startsWith('GANGBENCH '));
  if (!line) throw new Error(`the gang job printed no GANGBENCH line:\n${job.stdout}`);
  const gang = JSON.parse(line.slice('GANGBENCH '.length));
  if (gang.check !== 6 || plain.check !== 6) throw new Error('wrong allreduce results');
  fs.rmSync(dir, { recursive: true, force: true });
  return [
    [
      'allreduce inside a 4-rank gang, 8 bytes: median latency',
      `${gang.smallUs.toFixed(1)} us (${(gang.smallUs / plain.smallUs).toFixed(1)}x)`,
      '<= 1.2x',
      `plain 4-rank C program: ${plain.smallUs.toFixed(1)} us`,
    ],
    [
      'allreduce inside a 4-rank gang, 64 MiB (best of 5)',
      `${Math.round(gang.bigMiBps)} MiB/s (${(gang.bigMiBps / plain.bigMiBps).toFixed(2)} of plain)`,
      '>= 0.9 of plain',
      `plain 4-rank C program: ${Math.round(plain.bigMiBps)} MiB/s`,
    ],
    [
      'submit -> every rank of a 4-rank gang running (median of 20)',
      `${gang.startMs.toFixed(1)} ms (${(launch / gang.startMs).toFixed(0)}x faster)`,
      '10x faster',
      `mpirun -np 4 of a no-op MPI program: ${Math.round(launch)} ms`,
    ],
  ];
};
