import { resolveThresholds } from '../worker/memory';
import { OptionError } from '../errors';

/** The batch systems a job-queue cluster submits to. */
export type SystemName = 'slurm' | 'pbs' | 'sge';

/** Where the scheduler listens: the login node's network is often not the workers'. */
export interface SchedulerPlacement {
  /** Interface on this (login) node, e.g. 'ib0' or 'eth0'. */
  interface?: string;
  /** Address on this node; wins over `interface`. */
  host?: string;
  /** Port; default: one the OS chooses. */
  port?: number;
}

/** dask-jobqueue's options, camel-cased. Per job unless said otherwise. */
export interface JobQueueOptions {
  /** CPU cores per job. Required. */
  cores: number;
  /** Memory per job, e.g. '16GB' (16e9 bytes, as in Dask) or '16GiB'. Required. */
  memory: string | number;
  /** Worker processes per job; each gets cores / processes threads. Default 1 (with gpus: gpus). */
  processes?: number;
  /**
   * GPUs per job: the batch system's directive (Slurm --gres=gpu:N, PBS ngpus=N in the select,
   * SGE -l gpu=N) and one worker per GPU, each pinned to its own (CUDA_VISIBLE_DEVICES rotated,
   * its GPU first) and offering { GPU: 1 }.
   */
  gpus?: number;
  queue?: string;
  /** Account (Slurm, PBS) or project (SGE) charged. */
  account?: string;
  /** Job time limit, HH:MM:SS (Slurm also D-HH:MM:SS). Default 00:30:00. */
  walltime?: string;
  /** Interface the workers serve data on, on the compute nodes, e.g. 'ib0'. */
  interface?: string;
  schedulerOptions?: SchedulerPlacement;
  /** Workers' scratch directory on the compute nodes (may be a variable such as '$TMPDIR'). */
  localDirectory?: string;
  /** Where job output goes. Default: the cluster's own directory (~/.mpi-cluster/clusters/ID/logs). */
  logDirectory?: string;
  /** Default 'mpi-worker'. */
  jobName?: string;
  /** Directives added as given, after the generated ones. */
  jobExtraDirectives?: string[];
  /** Generated directive lines containing any of these substrings are left out. */
  jobDirectivesSkip?: string[];
  /** Lines run before the workers start (module load ...). */
  jobScriptPrologue?: string[];
  /** Lines run after the workers end. */
  jobScriptEpilogue?: string[];
  /** Default '#!/usr/bin/env bash'. */
  shebang?: string;
  /** The Node executable on the compute nodes. Default: this process's. */
  node?: string;
  /** Seconds a worker waits for an unreachable scheduler before it exits. Default 60. */
  deathTimeout?: number;
  /** Extra arguments for each mpi-cluster-worker. */
  workerExtraArgs?: string[];
  /** Dask's memory thresholds for each worker, fractions of its memory or false (off). */
  memoryThresholds?: Partial<Record<'target' | 'spill' | 'pause' | 'terminate', number | false>>;
  /** The scheduler file the jobs read (address and keys, mode 0600); must be on a filesystem the compute nodes share. Default: in the cluster's own directory under ~/.mpi-cluster. */
  schedulerFile?: string;
  /** Extra environment for the batch system's commands (e.g. { SLURM_CONF }), over this process's. */
  env?: Record<string, string>;
  /** false: no CurveZMQ (a warning says so). Default: keys made for this cluster. */
  security?: false;
  /** Slurm: --cpus-per-task (default: cores). */
  jobCpu?: number;
  /** Slurm: --mem (default: memory). */
  jobMem?: string;
  /** PBS: the -l resource list (default select=1:ncpus=C:mem=M); SGE: a -l resource list. */
  resourceSpec?: string;
}

const COMMON = [
  'cores',
  'memory',
  'processes',
  'gpus',
  'queue',
  'account',
  'walltime',
  'interface',
  'schedulerOptions',
  'localDirectory',
  'logDirectory',
  'jobName',
  'jobExtraDirectives',
  'jobDirectivesSkip',
  'jobScriptPrologue',
  'jobScriptEpilogue',
  'shebang',
  'node',
  'deathTimeout',
  'workerExtraArgs',
  'memoryThresholds',
  'schedulerFile',
  'env',
  'security',
];

export const KNOWN_OPTIONS: Record<SystemName, string[]> = {
  slurm: [...COMMON, 'jobCpu', 'jobMem'],
  pbs: [...COMMON, 'resourceSpec'],
  sge: [...COMMON, 'resourceSpec'],
};

export const CLUSTER_CLASS: Record<SystemName, string> = {
  slurm: 'SLURMCluster',
  pbs: 'PBSCluster',
  sge: 'SGECluster',
};

/** The options checked, with defaults filled and sizes in bytes and seconds. */
export interface ResolvedJobOptions extends JobQueueOptions {
  system: SystemName;
  processes: number;
  walltime: string;
  jobName: string;
  shebang: string;
  node: string;
  deathTimeout: number;
  /** Bytes per job. */
  memoryBytes: number;
  /** Seconds. */
  walltimeSeconds: number;
  threadsPerWorker: number;
  /** Bytes per worker (memoryBytes / processes). */
  workerMemoryBytes: number;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** '16GB' is 16e9 bytes and '16GiB' 16 * 2^30, as in Dask; a number is bytes. */
export function parseBytes(value: string | number, what = 'memory'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 1) return Math.floor(value);
  } else {
    const m = /^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
    if (m && unit !== undefined && Number(m[1]) * unit >= 1) return Math.floor(Number(m[1]) * unit);
  }
  throw new OptionError(
    `${what} ${JSON.stringify(value)} is not a size: write e.g. '16GB' (16e9 bytes) or '16GiB' (16 * 2^30 bytes)`,
  );
}

/** HH:MM:SS, MM:SS or (Slurm) D-HH:MM:SS, to seconds. */
export function parseWalltime(text: string): number {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d{1,2})$/.exec(text);
  if (typeof text !== 'string' || !m) {
    throw new OptionError(
      `walltime ${JSON.stringify(text)} is not understood: write HH:MM:SS, e.g. '00:30:00'`,
    );
  }
  const [, d, h, min, s] = m;
  const seconds = Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min) * 60 + Number(s);
  if (seconds <= 0) throw new OptionError(`walltime ${text} must be longer than zero`);
  return seconds;
}

function stringList(name: string, v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new OptionError(`${name} must be an array of strings, got ${JSON.stringify(v)}`);
  }
  return v as string[];
}

function positiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new OptionError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function optionalString(name: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'string' || v === '')) {
    throw new OptionError(`${name} must be a non-empty string, got ${JSON.stringify(v)}`);
  }
}

/** Checks every option against the system's list and fills the defaults. */
export function resolveJobOptions(system: SystemName, o: JobQueueOptions): ResolvedJobOptions {
  const cls = CLUSTER_CLASS[system];
  if (typeof o !== 'object' || o === null) {
    throw new OptionError(`${cls}.start(options): options must be an object`);
  }
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS[system].includes(k)) {
      throw new OptionError(
        `unknown ${cls} option "${k}"; known: ${KNOWN_OPTIONS[system].join(', ')}`,
      );
    }
  }
  if (o.cores === undefined || o.memory === undefined) {
    throw new OptionError(
      `${cls}: cores and memory are required (per job), e.g. cores: 1, memory: '16GB'`,
    );
  }
  const cores = positiveInt('cores', o.cores);
  const gpus = o.gpus === undefined ? undefined : positiveInt('gpus', o.gpus);
  const processes = positiveInt('processes', o.processes ?? gpus ?? 1);
  if (gpus !== undefined && processes !== gpus) {
    throw new OptionError(
      `with gpus: ${gpus} each job runs one worker per GPU: leave out processes (${processes}) or make it ${gpus}`,
    );
  }
  if (processes > cores) {
    throw new OptionError(
      `processes (${processes}) cannot exceed cores (${cores}): each worker needs a core`,
    );
  }
  const memoryBytes = parseBytes(o.memory);
  const walltime = o.walltime ?? '00:30:00';
  const walltimeSeconds = parseWalltime(walltime);
  if (o.jobCpu !== undefined) positiveInt('jobCpu', o.jobCpu);
  if (o.jobMem !== undefined) parseBytes(o.jobMem, 'jobMem');
  for (const name of [
    'queue',
    'account',
    'interface',
    'localDirectory',
    'logDirectory',
    'jobName',
    'shebang',
    'node',
    'schedulerFile',
    'resourceSpec',
  ] as const) {
    optionalString(name, o[name]);
  }
  for (const name of [
    'jobExtraDirectives',
    'jobDirectivesSkip',
    'jobScriptPrologue',
    'jobScriptEpilogue',
    'workerExtraArgs',
  ] as const) {
    stringList(name, o[name]);
  }
  resolveThresholds(o.memoryThresholds);
  const deathTimeout = o.deathTimeout ?? 60;
  if (typeof deathTimeout !== 'number' || !(deathTimeout > 0)) {
    throw new OptionError(
      `deathTimeout must be a positive number of seconds, got ${JSON.stringify(deathTimeout)}`,
    );
  }
  const s = o.schedulerOptions ?? {};
  if (typeof s !== 'object' || s === null)
    throw new OptionError('schedulerOptions must be an object');
  for (const k of Object.keys(s)) {
    if (!['interface', 'host', 'port'].includes(k)) {
      throw new OptionError(`unknown schedulerOptions field "${k}"; known: interface, host, port`);
    }
  }
  if (s.port !== undefined && (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535)) {
    throw new OptionError(
      `schedulerOptions.port must be a port number, got ${JSON.stringify(s.port)}`,
    );
  }
  if (
    o.env !== undefined &&
    (typeof o.env !== 'object' || Object.values(o.env).some((v) => typeof v !== 'string'))
  ) {
    throw new OptionError('env must map variable names to strings');
  }
  if (o.security !== undefined && o.security !== false) {
    throw new OptionError(
      `${cls} security: only false (off) can be given; keys are made for each cluster`,
    );
  }
  return {
    ...o,
    system,
    processes,
    walltime,
    walltimeSeconds,
    memoryBytes,
    threadsPerWorker: Math.max(1, Math.floor(cores / processes)),
    workerMemoryBytes: Math.floor(memoryBytes / processes),
    jobName: o.jobName ?? 'mpi-worker',
    shebang: o.shebang ?? '#!/usr/bin/env bash',
    node: o.node ?? process.execPath,
    deathTimeout,
  };
}
