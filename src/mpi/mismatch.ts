/**
 * Launcher/binding mismatch: the job was started as many ranks, but the MPI the binding
 * links does not speak the launcher's protocol, so every process initializes as a
 * singleton and is "rank 0 of 1". Pure: the environment and the MPI identity are passed in.
 */

export interface LoadedMpi {
  vendor: string;
  flavour: string;
}

export interface LauncherMismatch {
  variable: string;
  value: string;
  message: string;
}

type Launcher = 'openmpi' | 'pmi' | 'pmix' | 'slurm' | 'mvapich';

/** Checked in order; `rank` variables indicate a mismatch when their value is > 0. */
const VARIABLES: ReadonlyArray<{ name: string; kind: 'size' | 'rank'; launcher: Launcher }> = [
  { name: 'OMPI_COMM_WORLD_SIZE', kind: 'size', launcher: 'openmpi' },
  { name: 'OMPI_COMM_WORLD_RANK', kind: 'rank', launcher: 'openmpi' },
  { name: 'PMI_SIZE', kind: 'size', launcher: 'pmi' },
  { name: 'PMI_RANK', kind: 'rank', launcher: 'pmi' },
  { name: 'MPI_LOCALNRANKS', kind: 'size', launcher: 'pmi' },
  { name: 'PMIX_RANK', kind: 'rank', launcher: 'pmix' },
  { name: 'MV2_COMM_WORLD_SIZE', kind: 'size', launcher: 'mvapich' },
  { name: 'SLURM_STEP_NUM_TASKS', kind: 'size', launcher: 'slurm' },
  { name: 'SLURM_NTASKS', kind: 'size', launcher: 'slurm' },
];

const LAUNCHER_NAMES: Record<Launcher, string> = {
  openmpi: "Open MPI's mpirun",
  pmi: 'a PMI launcher (MPICH/Intel MPI mpiexec (hydra), or srun --mpi=pmi2)',
  pmix: "a PMIx launcher (Open MPI's mpirun/prterun or srun --mpi=pmix)",
  mvapich: "MVAPICH's launcher",
  slurm: 'srun',
};

function fixFor(launcher: Launcher, mpi: LoadedMpi): string {
  const rebuild = (flavour: string): string =>
    `set MPI_CLUSTER_MPI=${flavour} for every rank (build it once with ` +
    `\`MPI_CLUSTER_MPI=${flavour} npm run build:native\`)`;
  const isOpenMpi = /open ?mpi/i.test(mpi.vendor);
  switch (launcher) {
    case 'openmpi':
    case 'pmix':
      return isOpenMpi
        ? `launch with the mpirun of the Open MPI installation the binding was built against ` +
            `(build/${mpi.flavour}), or rebuild the binding against the launcher's MPI`
        : `launch with the mpirun that matches ${mpi.vendor}, or ${rebuild('openmpi')}`;
    case 'pmi':
      return isOpenMpi
        ? `launch with Open MPI's mpirun, or ${rebuild('mpich')}`
        : `launch with the mpiexec of the ${mpi.vendor} the binding was built against ` +
            `(build/${mpi.flavour}), or rebuild it with the launcher's MPI (MPI_CLUSTER_MPI=system)`;
    case 'slurm':
      return (
        `make srun's PMI plugin match the binding's MPI (srun --mpi=pmix for Open MPI, ` +
        `srun --mpi=pmi2 for MPICH; see srun --mpi=list), or launch with the mpirun of ` +
        `${mpi.vendor}. If this process was meant to run alone inside the allocation, ignore this`
      );
    case 'mvapich':
      return `${rebuild('system')} with MVAPICH's mpicc first on PATH`;
  }
}

/** Returns the mismatch to report, or null when the world size agrees with the environment. */
export function detectLauncherMismatch(
  worldSize: number,
  env: Readonly<Record<string, string | undefined>>,
  mpi: LoadedMpi,
): LauncherMismatch | null {
  if (worldSize !== 1) return null;
  for (const { name, kind, launcher } of VARIABLES) {
    const value = env[name];
    if (value === undefined || !/^\d+$/.test(value.trim())) continue;
    const n = Number(value);
    if (kind === 'size' ? n <= 1 : n === 0) continue;
    const what =
      kind === 'size'
        ? `says this process was started as one of ${n} ranks`
        : `says this process is rank ${n} of a larger job`;
    return {
      variable: name,
      value,
      message:
        `mpi-cluster: warning: MPI world size is 1, but ${name}=${value} ${what} by ` +
        `${LAUNCHER_NAMES[launcher]}. The loaded binding uses ${mpi.vendor} (flavour ` +
        `"${mpi.flavour}"), which does not match the launcher, so every process runs as ` +
        `rank 0 of its own world. Fix: ${fixFor(launcher, mpi)}.`,
    };
  }
  return null;
}
