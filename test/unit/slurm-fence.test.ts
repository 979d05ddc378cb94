import { unsafeFenceWarning } from '../../src/mpi/slurm-fence';

/** Rank 0 of `srun --nodes=3 --mpi=pmix`, as Slurm 22.05 sets it up. */
const SRUN_RANK0 = {
  SLURM_STEP_ID: '0',
  SLURM_STEP_NUM_NODES: '3',
  PMIX_RANK: '0',
};

describe('warning about a multi-node srun whose PMIx fence is not a barrier', () => {
  test('rank 0 of a 3-node srun step with SLURM_PMIX_FENCE unset is warned, with the fix', () => {
    const message = unsafeFenceWarning(SRUN_RANK0);
    expect(message).toContain('spans 3 nodes and SLURM_PMIX_FENCE is not set');
    expect(message).toContain('export SLURM_PMIX_FENCE=ring');
    expect(message).toContain('PMIxCollFence=ring');
  });

  test('an explicit "tree" (or "mixed") is named in the warning', () => {
    expect(unsafeFenceWarning({ ...SRUN_RANK0, SLURM_PMIX_FENCE: 'tree' })).toContain(
      'SLURM_PMIX_FENCE=tree',
    );
    expect(unsafeFenceWarning({ ...SRUN_RANK0, SLURM_PMIX_FENCE: 'mixed' })).toContain(
      'SLURM_PMIX_FENCE=mixed',
    );
  });

  test('SLURM_PMIX_FENCE=ring: no warning', () => {
    expect(unsafeFenceWarning({ ...SRUN_RANK0, SLURM_PMIX_FENCE: 'ring' })).toBeNull();
  });

  test('one node, other ranks, mpirun, or no srun step at all: no warning', () => {
    expect(unsafeFenceWarning({ ...SRUN_RANK0, SLURM_STEP_NUM_NODES: '1' })).toBeNull();
    expect(unsafeFenceWarning({ ...SRUN_RANK0, PMIX_RANK: '4' })).toBeNull();
    // mpirun inside a batch job: Open MPI's own daemons run the fence.
    expect(unsafeFenceWarning({ ...SRUN_RANK0, OMPI_COMM_WORLD_RANK: '0' })).toBeNull();
    expect(unsafeFenceWarning({ PMIX_RANK: '0', SLURM_STEP_NUM_NODES: '3' })).toBeNull();
    expect(unsafeFenceWarning({ SLURM_STEP_ID: '0', SLURM_STEP_NUM_NODES: '3' })).toBeNull();
    expect(unsafeFenceWarning({})).toBeNull();
  });

  test('the node count falls back to SLURM_NNODES; an unreadable count does not warn', () => {
    const { SLURM_STEP_NUM_NODES: _, ...noStepCount } = SRUN_RANK0;
    expect(unsafeFenceWarning({ ...noStepCount, SLURM_NNODES: '2' })).toContain('spans 2 nodes');
    expect(unsafeFenceWarning({ ...SRUN_RANK0, SLURM_STEP_NUM_NODES: 'many' })).toBeNull();
  });
});
