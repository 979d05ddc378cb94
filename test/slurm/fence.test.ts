/**
 * The Open MPI start-up crash under srun (issue 5): Slurm 22.05's PMIx "tree" fence completes on
 * each node alone when the step has fewer nodes than TreeWidth, so the barrier at the end of
 * MPI_Init holds only within a node, and a rank that is late out of the address exchange gets MPI
 * traffic before its receive handlers exist (segfault in btl/tcp). The slurm/ scripts set
 * SLURM_PMIX_FENCE=ring, a fence that waits for every node.
 *
 * fixtures/fence-check.c times the fences themselves: with "ring" no rank leaves a round before
 * the last one entered it; with "tree" they do.
 *
 * fixtures/fence-delay.c (LD_PRELOAD) makes rank 2, on the second host, 1 s late out of that
 * exchange, which turns a race (7 of 60 node jobs on a busy machine) into a certainty: the control
 * with the tree fence must crash, else this rig proves nothing.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describeLab, ROOT, run, type Lab } from './lab';

const NODES = ['--nodes=3', '--ntasks-per-node=2']; // ranks 2 and 3 on the second host
const SQUARES = Array.from({ length: 16 }, (_, i) => i * i).join(' ');

/** Rounds of fixtures/fence-check output in which a rank left before the last rank entered. */
function brokenRounds(out: string): { rounds: number; broken: number } {
  const rounds = new Map<number, { entered: number[]; left: number[] }>();
  for (const m of out.matchAll(/^FENCE (\d+) (\d+) (\d+) (\d+)$/gm)) {
    const r = rounds.get(Number(m[2])) ?? { entered: [], left: [] };
    r.entered.push(Number(m[3]));
    r.left.push(Number(m[4]));
    rounds.set(Number(m[2]), r);
  }
  let broken = 0;
  for (const r of rounds.values()) {
    expect(r.entered).toHaveLength(6); // every rank reported every round
    if (Math.min(...r.left) < Math.max(...r.entered)) broken++;
  }
  return { rounds: rounds.size, broken };
}

describeLab(
  'srun PMIx fence and MPI_Init on 3 hosts',
  { prefix: 'fe', index: 7, nodes: 3, slurm: true, mpi: true },
  (lab: Lab) => {
    const fixture = (name: string) => path.join(ROOT, 'test', 'slurm', 'fixtures', name);
    // Built into jobs/, which down.sh removes.
    const shim = path.join(lab.jobsDir, 'fence-delay.so');
    const fenceCheck = path.join(lab.jobsDir, 'fence-check');
    const lateRank2 = { LD_PRELOAD: shim, FENCE_DELAY_RANK: '2', FENCE_DELAY_MS: '1000' };

    beforeAll(() => {
      execFileSync('cc', ['-shared', '-fPIC', '-o', shim, fixture('fence-delay.c'), '-ldl']);
      execFileSync('cc', ['-o', fenceCheck, fixture('fence-check.c'), '-l:libpmix.so.2']);
    });

    test(
      'data-less PMIx fences: "ring" is a barrier across hosts, Slurm 22.05\'s "tree" is not',
      () =>
        lab.check(async () => {
          const fences: Record<string, { rounds: number; broken: number }> = {};
          for (const algorithm of ['ring', 'tree']) {
            const r = await run(
              'srun',
              [...NODES, fenceCheck, '10'],
              { ...lab.env, SLURM_PMIX_FENCE: algorithm },
              60_000,
            );
            expect(r.code).toBe(0);
            fences[algorithm] = brokenRounds(r.out);
          }
          expect(fences.ring).toEqual({ rounds: 10, broken: 0 });
          // Each host completes the tree fence alone, so ranks drift apart by their random sleeps.
          expect(fences.tree.rounds).toBe(10);
          expect(fences.tree.broken).toBeGreaterThan(0);
        }),
      90_000,
    );

    test(
      'slurm/1-mpi-init.sbatch: a rank 1 s late out of the address exchange still joins',
      () =>
        lab.check(async () => {
          const { job, out } = await lab.runJob(
            'slurm/1-mpi-init.sbatch',
            { sbatch: NODES, env: lateRank2 },
            60_000,
          );
          expect(job.state).toBe('COMPLETED');
          expect(job.exitCode).toBe('0:0');
          expect(out).toContain(`${SQUARES}\n`);
          expect(out).toMatch(/16 tasks on 4 workers in/);
          expect(out).not.toMatch(/Segmentation fault|SLURM_PMIX_FENCE/);
        }),
      90_000,
    );

    test(
      'control: the same job with SLURM_PMIX_FENCE=tree segfaults in MPI_Init, after a warning',
      () =>
        lab.check(async () => {
          const { id, job, out } = await lab.runJob(
            'slurm/1-mpi-init.sbatch',
            { sbatch: NODES, env: { ...lateRank2, SLURM_PMIX_FENCE: 'tree' } },
            60_000,
          );
          expect(job.state).toBe('FAILED');
          expect(out).toMatch(/Segmentation fault/);
          expect(out).not.toContain(`${SQUARES}\n`);
          // Rank 0 said so before MPI_Init, with the fix.
          expect(out).toMatch(/warning: this srun step spans 3 nodes and SLURM_PMIX_FENCE=tree/);
          expect(out).toContain('export SLURM_PMIX_FENCE=ring');
          expect(lab.jobProcesses(id)).toEqual([]);
        }),
      90_000,
    );
  },
);
