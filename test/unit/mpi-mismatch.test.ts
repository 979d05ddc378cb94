import { detectLauncherMismatch } from '../../src/mpi/mismatch';

const OPEN_MPI = { vendor: 'Open MPI', flavour: 'openmpi' };
const MPICH = { vendor: 'MPICH', flavour: 'mpich' };

describe('launcher mismatch detection', () => {
  test('no launcher variables, or a world that matches them: no warning', () => {
    expect(detectLauncherMismatch(1, {}, OPEN_MPI)).toBeNull();
    expect(detectLauncherMismatch(4, { OMPI_COMM_WORLD_SIZE: '4' }, OPEN_MPI)).toBeNull();
    expect(detectLauncherMismatch(4, { SLURM_NTASKS: '4' }, MPICH)).toBeNull();
    expect(detectLauncherMismatch(1, { SLURM_NTASKS: '1', PMI_SIZE: '1' }, MPICH)).toBeNull();
    expect(detectLauncherMismatch(1, { PMIX_RANK: '0', PMI_RANK: '0' }, MPICH)).toBeNull();
    expect(detectLauncherMismatch(1, { SLURM_NTASKS: 'four' }, MPICH)).toBeNull();
  });

  test('MPICH launcher (PMI_SIZE) with the Open MPI binding: use the mpich flavour', () => {
    const found = detectLauncherMismatch(1, { PMI_SIZE: '4', PMI_RANK: '2' }, OPEN_MPI);
    expect(found).toMatchObject({ variable: 'PMI_SIZE', value: '4' });
    expect(found?.message).toContain('PMI_SIZE=4');
    expect(found?.message).toContain('Open MPI (flavour "openmpi")');
    expect(found?.message).toContain('MPI_CLUSTER_MPI=mpich');
    expect(found?.message).toContain('npm run build:native');
  });

  test("Open MPI's mpirun with the MPICH binding: use the openmpi flavour", () => {
    const found = detectLauncherMismatch(1, { OMPI_COMM_WORLD_SIZE: '8' }, MPICH);
    expect(found).toMatchObject({ variable: 'OMPI_COMM_WORLD_SIZE', value: '8' });
    expect(found?.message).toContain('MPI_CLUSTER_MPI=openmpi');
    expect(found?.message).toContain('MPICH (flavour "mpich")');
  });

  test('a non-zero rank variable alone is enough (PMIx exports no size)', () => {
    const found = detectLauncherMismatch(1, { PMIX_RANK: '3' }, MPICH);
    expect(found).toMatchObject({ variable: 'PMIX_RANK', value: '3' });
    expect(found?.message).toContain('rank 3');
  });

  test('srun: SLURM_NTASKS > 1 names the PMI plugin fix', () => {
    const found = detectLauncherMismatch(1, { SLURM_NTASKS: '4' }, OPEN_MPI);
    expect(found).toMatchObject({ variable: 'SLURM_NTASKS', value: '4' });
    expect(found?.message).toContain('one of 4 ranks');
    expect(found?.message).toContain('srun --mpi=pmix');
  });

  test('launcher-specific variables are reported before the generic Slurm ones', () => {
    const env = { SLURM_NTASKS: '16', MPI_LOCALNRANKS: '4' };
    expect(detectLauncherMismatch(1, env, OPEN_MPI)?.variable).toBe('MPI_LOCALNRANKS');
  });
});
