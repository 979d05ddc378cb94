/**
 * How an external MPI program (mpiProgram, issue 21) is started on the hosts of a gang's members:
 * the launcher command and the environment it gets. Pure functions of the rank's environment and
 * the gang's hosts, so every rule is unit-tested without a launcher (test/unit/mpi-program).
 */
import { ClusterError } from '../errors';

export type MpiVendor = 'openmpi' | 'mpich';
type Env = Readonly<Record<string, string | undefined>>;

export interface LaunchInput {
  /** The environment of the gang's rank 0 (a worker rank of the cluster's own MPI job). */
  env: Env;
  /** Each gang rank's host, in gang rank order: Slurm node names inside an allocation. */
  hosts: string[];
  /** Whose mpirun to use outside Slurm; null when it could not be told (see vendorFromEnv). */
  vendor: MpiVendor | null;
  command: string;
  args: string[];
  /** The absolute path of an executable found on PATH, or null. */
  find: (name: string) => string | null;
}

export interface LaunchPlan {
  kind: 'srun' | 'mpirun';
  /** The launcher's absolute path first, then its arguments, then the program and its own. */
  argv: string[];
  /** The launcher's environment: the rank's, less the cluster job's MPI/PMI variables. */
  env: Record<string, string>;
}

/**
 * Variables by which the rank's own launcher (mpirun/orted, hydra, srun's PMIx or PMI plugin) tells
 * a process that it is a rank of the cluster's job: a program that inherited them would try to
 * join that job (or an mpirun would think it runs inside one), so they are dropped. Open MPI's
 * OMPI_MCA_* settings stay except the ones orted sets for the job (orte_*, ess*, pmix...): the
 * others are the user's tuning (btl_tcp_if_include, pml) that the program wants too.
 */
const JOB_VARIABLES =
  /^(PMIX_|PMI_|HYDI_|OMPI_(?!MCA_|ALLOW_RUN_AS_ROOT)|OMPI_MCA_(orte_|ess|pmix$|initial_wdir$|mpi_oversubscribe$|shmem_RUNTIME_QUERY_hint$)|MPI_LOCALNRANKS$|MPI_LOCALRANKID$|MPIR_CVAR_CH3_INTERFACE_HOSTNAME$)/;

/**
 * The Slurm variables a nested srun keeps. srun reads many SLURM_* variables as options
 * (SLURM_NTASKS, SLURM_NTASKS_PER_NODE, SLURM_CPUS_PER_TASK, SLURM_DISTRIBUTION, SRUN_CPUS_PER_TASK,
 * SLURM_MEM_PER_CPU...), and in a rank of the cluster's step they describe that step: inherited
 * they would contradict the new step's layout. The job id is enough for srun to find the
 * allocation; SLURM_CONF, the MPI plugin and its PMIx settings (SLURM_PMIX_FENCE) are the site's.
 */
const SLURM_KEPT = /^(SLURM_JOB_ID|SLURM_JOBID|SLURM_CONF|SLURM_MPI_TYPE|SLURM_PMIX_\w+)$/;

/** The cluster's credentials are not the program's to read. */
const PRIVATE = new Set(['MPI_CLUSTER_KEYS']);

/** The environment the launcher gets: `env` less the job's MPI variables (and, for srun, Slurm's). */
export function programEnv(env: Env, kind: LaunchPlan['kind']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || JOB_VARIABLES.test(key) || PRIVATE.has(key)) continue;
    if (kind === 'srun' && /^(SLURM_|SRUN_)/.test(key) && !SLURM_KEPT.test(key)) continue;
    out[key] = value;
  }
  return out;
}

/**
 * Whose mpirun the cluster's job was started with, from the rank's environment: the binding's
 * flavour (MPI_CLUSTER_MPI), else the launcher's own variables. null: ask `mpirun --version`.
 */
export function vendorFromEnv(env: Env): MpiVendor | null {
  const flavour = env.MPI_CLUSTER_MPI;
  if (flavour === 'openmpi' || flavour === 'mpich') return flavour;
  if (env.OMPI_COMM_WORLD_SIZE !== undefined) return 'openmpi';
  if (env.HYDI_CONTROL_FD !== undefined || env.PMI_FD !== undefined) return 'mpich';
  return null;
}

/** The vendor `mpirun --version` names, or null. */
export function vendorFromVersion(text: string): MpiVendor | null {
  if (/open\s?mpi|open-rte/i.test(text)) return 'openmpi';
  if (/hydra|mpich|intel\(r\) mpi/i.test(text)) return 'mpich';
  return null;
}

/**
 * Launcher names by vendor, Debian's unambiguous ones first: a plain `mpirun` may be either
 * vendor's (update-alternatives), where `mpirun.openmpi` and `mpiexec.hydra` are not.
 */
const LAUNCHERS: Record<MpiVendor, string[]> = {
  openmpi: ['mpirun.openmpi', 'mpirun', 'mpiexec'],
  mpich: ['mpiexec.hydra', 'mpiexec.mpich', 'mpiexec', 'mpirun'],
};

/** Hosts in order of first appearance, with the number of gang ranks on each. */
export function slots(hosts: string[]): [string, number][] {
  const count = new Map<string, number>();
  for (const h of hosts) count.set(h, (count.get(h) ?? 0) + 1);
  return [...count];
}

/**
 * The command that starts `command args` as an MPI job of `hosts.length` ranks on the gang's
 * hosts, as many ranks on each host as the gang has members there:
 * - inside a Slurm allocation (SLURM_JOB_ID set, srun on PATH), a new step of the job:
 *   `srun --overlap --ntasks=N --nodes=K --nodelist=h1,h1,h2 --distribution=arbitrary`.
 *   `--overlap`: the cluster's own step holds the allocation's CPUs and memory (the gang's slots
 *   are reserved for this program, so sharing them is right); arbitrary distribution with the
 *   node list repeated per rank puts the ranks where the members are; `--kill-on-bad-exit` ends
 *   the step when a rank fails, as mpirun does.
 * - else the mpirun of the vendor: Open MPI `--host h1:2,h2:1 -np N`, MPICH's hydra
 *   `-hosts h1:2,h2:1 -n N`.
 * No launcher: ERR_NO_LAUNCHER, saying what to install or load.
 */
export function launchPlan(input: LaunchInput): LaunchPlan {
  const { env, hosts, command, args, find } = input;
  const n = String(hosts.length);
  const srun = env.SLURM_JOB_ID ? find('srun') : null;
  if (srun) {
    return {
      kind: 'srun',
      argv: [
        srun,
        '--overlap',
        `--ntasks=${n}`,
        `--nodes=${slots(hosts).length}`,
        `--nodelist=${hosts.join(',')}`,
        '--distribution=arbitrary',
        '--kill-on-bad-exit=1',
        '--',
        command,
        ...args,
      ],
      env: programEnv(env, 'srun'),
    };
  }
  const vendors: MpiVendor[] = input.vendor ? [input.vendor] : ['openmpi', 'mpich'];
  for (const vendor of vendors) {
    for (const name of LAUNCHERS[vendor]) {
      const found = find(name);
      if (!found) continue;
      const hostList = slots(hosts)
        .map(([h, k]) => `${h}:${k}`)
        .join(',');
      const layout =
        vendor === 'openmpi' ? ['--host', hostList, '-np', n] : ['-hosts', hostList, '-n', n];
      return {
        kind: 'mpirun',
        argv: [found, ...layout, command, ...args],
        env: programEnv(env, 'mpirun'),
      };
    }
  }
  const inSlurm = env.SLURM_JOB_ID
    ? `SLURM_JOB_ID=${env.SLURM_JOB_ID} is set but srun is not on PATH, and `
    : '';
  const names = vendors.flatMap((v) => LAUNCHERS[v]).join(', ');
  throw new ClusterError(
    'ERR_NO_LAUNCHER',
    `mpiProgram(${JSON.stringify(command)}): no MPI launcher to start it on the gang's hosts: ` +
      `${inSlurm}none of ${names} is on PATH of the worker rank on ${hosts[0]}. ` +
      `Inside a Slurm allocation srun is used (install slurm-client or load Slurm's module); ` +
      `elsewhere the mpirun of the cluster's MPI: apt-get install openmpi-bin (Open MPI) or mpich ` +
      `(MPICH), or \`module load\` your site's MPI before starting the cluster.`,
  );
}
