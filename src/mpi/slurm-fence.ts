/**
 * srun's PMIx fence as MPI_Init's barrier. Under `srun --mpi=pmix` Open MPI's MPI_Init ends with
 * a PMIx fence that carries no data, and Slurm's mpi/pmix plugin runs such fences with its "tree"
 * algorithm unless SLURM_PMIX_FENCE says otherwise. On Slurm 22.05 that tree is no barrier when
 * the step has fewer nodes than TreeWidth: libslurm's reverse_tree_info() then answers "no
 * parent, no children" for every node, so each node completes the fence alone. A rank can then
 * leave MPI_Init and send to a rank on another node that is still waiting for the address
 * exchange, before its receive handlers exist, and that rank segfaults inside MPI_Init (btl/tcp
 * calls a NULL handler). SLURM_PMIX_FENCE=ring makes every fence wait for every node.
 * Pure: the environment is passed in.
 */

export const FENCE_VARIABLE = 'SLURM_PMIX_FENCE';

/**
 * The warning to print before MPI_Init, or null. Only rank 0 of a direct srun launch (PMIx,
 * not mpirun) that spans more than one node warns, and only when SLURM_PMIX_FENCE is not "ring".
 */
export function unsafeFenceWarning(
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  if (env.SLURM_STEP_ID === undefined || env.PMIX_RANK === undefined) return null;
  if (env.OMPI_COMM_WORLD_RANK !== undefined) return null; // mpirun's daemons run the fence
  if (env.PMIX_RANK.trim() !== '0') return null;
  const nodes = Number(env.SLURM_STEP_NUM_NODES ?? env.SLURM_NNODES);
  if (!Number.isInteger(nodes) || nodes < 2) return null;
  const fence = env[FENCE_VARIABLE];
  if (fence === 'ring') return null;
  return (
    `mpi-cluster: warning: this srun step spans ${nodes} nodes and ` +
    `${fence === undefined ? `${FENCE_VARIABLE} is not set` : `${FENCE_VARIABLE}=${fence}`}. ` +
    `With Slurm 22.05's PMIx "tree" fence, MPI_Init's barrier holds only within each node, and ` +
    `now and then a rank is sent MPI traffic before it is ready and dies with a segmentation ` +
    `fault in MPI_Init. Fix: \`export ${FENCE_VARIABLE}=ring\` before srun (the slurm/ scripts ` +
    `do), or ask your admins for PMIxCollFence=ring in mpi.conf and set ${FENCE_VARIABLE}=ring ` +
    `to silence this. See docs/slurm.md ("SLURM_PMIX_FENCE").`
  );
}
