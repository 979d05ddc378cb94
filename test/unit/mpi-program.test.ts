import * as path from 'node:path';
import { mpiProgram, isMpiProgram, programTask } from '../../src/client/program';
import {
  launchPlan,
  programEnv,
  vendorFromEnv,
  vendorFromVersion,
  type LaunchInput,
} from '../../src/worker/launcher';

const ON_PATH: Record<string, string> = {
  srun: '/usr/bin/srun',
  mpirun: '/usr/bin/mpirun',
  'mpirun.openmpi': '/usr/bin/mpirun.openmpi',
  'mpiexec.hydra': '/usr/bin/mpiexec.hydra',
};

function input(over: Partial<LaunchInput>): LaunchInput {
  return {
    env: { PATH: '/usr/bin', HOME: '/root' },
    hosts: ['n1', 'n2', 'n1'],
    vendor: 'openmpi',
    command: 'lmp',
    args: ['-in', 'in.lj'],
    find: (name) => ON_PATH[name] ?? null,
    ...over,
  };
}

describe('launchPlan: the launcher command for a gang of hosts', () => {
  test('inside a Slurm allocation: srun --overlap, one node-list entry per rank, arbitrary', () => {
    const plan = launchPlan(input({ env: { SLURM_JOB_ID: '42', PATH: '/usr/bin' } }));
    expect(plan.kind).toBe('srun');
    expect(plan.argv).toEqual([
      '/usr/bin/srun',
      '--overlap',
      '--ntasks=3',
      '--nodes=2',
      '--nodelist=n1,n2,n1',
      '--distribution=arbitrary',
      '--kill-on-bad-exit=1',
      '--',
      'lmp',
      '-in',
      'in.lj',
    ]);
  });

  test('SLURM_JOB_ID without srun on PATH: mpirun instead', () => {
    const find = (name: string) => (name === 'srun' ? null : (ON_PATH[name] ?? null));
    const plan = launchPlan(input({ env: { SLURM_JOB_ID: '42' }, find }));
    expect(plan.argv[0]).toBe('/usr/bin/mpirun.openmpi');
  });

  test('Open MPI: --host with slots per host in order of first appearance, -np N', () => {
    const plan = launchPlan(input({ hosts: ['b', 'a', 'b', 'b'] }));
    expect(plan.kind).toBe('mpirun');
    expect(plan.argv).toEqual([
      '/usr/bin/mpirun.openmpi',
      '--host',
      'b:3,a:1',
      '-np',
      '4',
      'lmp',
      '-in',
      'in.lj',
    ]);
  });

  test("MPICH: hydra's -hosts h:k and -n N", () => {
    const plan = launchPlan(input({ vendor: 'mpich', hosts: ['h1', 'h2'] }));
    expect(plan.argv).toEqual([
      '/usr/bin/mpiexec.hydra',
      '-hosts',
      'h1:1,h2:1',
      '-n',
      '2',
      'lmp',
      '-in',
      'in.lj',
    ]);
  });

  test('a plain mpirun when the Debian-suffixed one is absent; either vendor when unknown', () => {
    const plain = (name: string) => (name === 'mpirun' ? '/opt/mpi/bin/mpirun' : null);
    expect(launchPlan(input({ find: plain })).argv.slice(0, 3)).toEqual([
      '/opt/mpi/bin/mpirun',
      '--host',
      'n1:2,n2:1',
    ]);
    const hydraOnly = (name: string) =>
      name === 'mpiexec.hydra' ? '/usr/bin/mpiexec.hydra' : null;
    expect(launchPlan(input({ vendor: null, find: hydraOnly })).argv.slice(0, 2)).toEqual([
      '/usr/bin/mpiexec.hydra',
      '-hosts',
    ]);
  });

  test('no launcher at all: ERR_NO_LAUNCHER saying what to install or load', () => {
    let caught: unknown;
    try {
      launchPlan(input({ env: { SLURM_JOB_ID: '7' }, find: () => null }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_NO_LAUNCHER' });
    const message = (caught as Error).message;
    expect(message).toContain('SLURM_JOB_ID=7 is set but srun is not on PATH');
    expect(message).toContain('apt-get install openmpi-bin');
    expect(message).toContain('module load');
  });
});

describe("programEnv: the cluster job's MPI variables do not reach the program", () => {
  const rank = {
    PATH: '/usr/bin',
    OMPI_COMM_WORLD_RANK: '2',
    OMPI_COMM_WORLD_SIZE: '4',
    OMPI_MCA_orte_hnp_uri: '1.0;tcp://10.0.0.1:5000',
    OMPI_MCA_ess: '^singleton',
    OMPI_MCA_pmix: '^s1,s2',
    OMPI_MCA_btl_tcp_if_include: 'ib0',
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    PMIX_RANK: '2',
    PMIX_SERVER_URI41: 'x',
    PMI_RANK: '2',
    PMI_FD: '6',
    HYDI_CONTROL_FD: '7',
    MPI_LOCALRANKID: '0',
    MPI_CLUSTER_KEYS: 'secret',
    MPI_CLUSTER_MPI: 'openmpi',
    SLURM_JOB_ID: '42',
    SLURM_STEP_ID: '0',
    SLURM_NTASKS: '6',
    SLURM_NTASKS_PER_NODE: '2',
    SLURM_PROCID: '2',
    SRUN_CPUS_PER_TASK: '1',
    SLURM_CONF: '/etc/slurm/slurm.conf',
    SLURM_PMIX_FENCE: 'ring',
    SLURM_MPI_TYPE: 'pmix',
  };

  test("mpirun: the launcher's and PMI's variables go, user MCA settings and Slurm's stay", () => {
    expect(programEnv(rank, 'mpirun')).toEqual({
      PATH: '/usr/bin',
      OMPI_MCA_btl_tcp_if_include: 'ib0',
      OMPI_ALLOW_RUN_AS_ROOT: '1',
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
      MPI_CLUSTER_MPI: 'openmpi',
      SLURM_JOB_ID: '42',
      SLURM_STEP_ID: '0',
      SLURM_NTASKS: '6',
      SLURM_NTASKS_PER_NODE: '2',
      SLURM_PROCID: '2',
      SRUN_CPUS_PER_TASK: '1',
      SLURM_CONF: '/etc/slurm/slurm.conf',
      SLURM_PMIX_FENCE: 'ring',
      SLURM_MPI_TYPE: 'pmix',
    });
  });

  test("srun: also the step's own Slurm variables, which srun would read as options", () => {
    expect(programEnv(rank, 'srun')).toEqual({
      PATH: '/usr/bin',
      OMPI_MCA_btl_tcp_if_include: 'ib0',
      OMPI_ALLOW_RUN_AS_ROOT: '1',
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
      MPI_CLUSTER_MPI: 'openmpi',
      SLURM_JOB_ID: '42',
      SLURM_CONF: '/etc/slurm/slurm.conf',
      SLURM_PMIX_FENCE: 'ring',
      SLURM_MPI_TYPE: 'pmix',
    });
  });

  test('the launch plan carries that environment', () => {
    expect(launchPlan(input({ env: rank })).env).toEqual(programEnv(rank, 'srun'));
  });
});

describe("the vendor of the job's mpirun", () => {
  test("from the binding's flavour, else the launcher's own variables", () => {
    expect(vendorFromEnv({ MPI_CLUSTER_MPI: 'mpich', OMPI_COMM_WORLD_SIZE: '4' })).toBe('mpich');
    expect(vendorFromEnv({ OMPI_COMM_WORLD_SIZE: '4' })).toBe('openmpi');
    expect(vendorFromEnv({ PMI_FD: '6', PMI_RANK: '0' })).toBe('mpich');
    expect(vendorFromEnv({ MPI_CLUSTER_MPI: 'system' })).toBeNull();
  });

  test('from mpirun --version', () => {
    expect(vendorFromVersion('mpirun (Open MPI) 4.1.4\n')).toBe('openmpi');
    expect(vendorFromVersion('HYDRA build details:\n    Version: 4.0.2')).toBe('mpich');
    expect(vendorFromVersion('something else')).toBeNull();
  });
});

describe('mpiProgram: validation and the task it becomes', () => {
  test('a gang function of dist/worker/program.js with the program as its argument', () => {
    const p = mpiProgram('lmp', ['-in', 'in.lj'], { env: { A: '1' }, cwd: 'runs', timeout: '2m' });
    expect(isMpiProgram(p)).toBe(true);
    expect(p.fn.module).toBe(path.resolve(__dirname, '..', '..', 'dist', 'worker', 'program.js'));
    expect(p.fn.export).toBe('runProgram');
    expect(p.spec).toEqual({
      command: 'lmp',
      args: ['-in', 'in.lj'],
      env: { A: '1' },
      cwd: path.resolve('runs'),
      timeoutMs: 120_000,
    });
    const [options, fn, spec] = programTask({ ranks: 8, priority: 1 }, p, []);
    expect(options).toEqual({ ranks: 8, priority: 1 });
    expect(fn).toBe(p.fn);
    expect(spec).toBe(p.spec);
  });

  test.each([
    ['an empty command', () => mpiProgram(''), /command must be a non-empty string/],
    ['args not strings', () => mpiProgram('a', [1 as never]), /args must be an array of strings/],
    ['args a string', () => mpiProgram('a', '-v' as never), /args must be an array of strings/],
    ['an unknown option', () => mpiProgram('a', [], { np: 4 } as never), /unknown option "np"/],
    ['env values not strings', () => mpiProgram('a', [], { env: { N: 4 as never } }), /env\.N/],
    ['a bad timeout', () => mpiProgram('a', [], { timeout: '10 parsecs' }), /timeout/],
    ['a zero timeout', () => mpiProgram('a', [], { timeout: 0 }), /more than 0/],
  ])('%s: ERR_INVALID_OPTION', (_what, make, message) => {
    expect(make).toThrow(message);
    expect(make).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
  });

  test('submitted without ranks, or with task arguments: ERR_INVALID_OPTION', () => {
    const p = mpiProgram('lmp');
    expect(() => programTask({}, p, [])).toThrow(/submitWith\(\{ ranks: N \}, program\)/);
    expect(() => programTask({ ranks: 2 }, p, [1])).toThrow(/takes no task arguments/);
    expect(() => programTask({}, p, [])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    );
  });
});
