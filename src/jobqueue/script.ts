import { thresholdFlags } from '../worker/memory';
import { distFile } from '../paths';
import { parseBytes, type ResolvedJobOptions, type SystemName } from './options';

/** What the batch system calls each part of a job script. */
interface Dialect {
  prefix: string;
  /** The variable that holds the job's id inside the job. */
  jobIdVariable: string;
  directives(o: ResolvedJobOptions, logDirectory: string): string[];
  /** How `memory` is written for this system, and in which unit (for the comment). */
  memory?(o: ResolvedJobOptions): { text: string; explained: string };
}

const MiB = 2 ** 20;

/** Slurm and PBS count M/mb as 2^20 bytes: rounded up, so a job never gets less than asked. */
function mebibytes(bytes: number, suffix: string): string {
  return `${Math.ceil(bytes / MiB)}${suffix}`;
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(2)} GB = ${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

const DIALECTS: Record<SystemName, Dialect> = {
  slurm: {
    prefix: '#SBATCH',
    jobIdVariable: 'SLURM_JOB_ID',
    memory: (o) => {
      const bytes = o.jobMem !== undefined ? parseBytes(o.jobMem, 'jobMem') : o.memoryBytes;
      return {
        text: mebibytes(bytes, 'M'),
        explained: `${mebibytes(bytes, 'M')} (MiB, ${gb(bytes)})`,
      };
    },
    directives: (o, log) => [
      `-J ${o.jobName}`,
      ...(o.queue ? [`-p ${o.queue}`] : []),
      ...(o.account ? [`-A ${o.account}`] : []),
      '-n 1',
      `--cpus-per-task=${o.jobCpu ?? o.cores}`,
      `--mem=${DIALECTS.slurm.memory!(o).text}`,
      ...(o.gpus ? [`--gres=gpu:${o.gpus}`] : []),
      `-t ${o.walltime}`,
      `-o ${log}/%x-%j.out`,
      `-e ${log}/%x-%j.err`,
    ],
  },
  pbs: {
    prefix: '#PBS',
    jobIdVariable: 'PBS_JOBID',
    memory: (o) => ({
      text: mebibytes(o.memoryBytes, 'mb'),
      explained: `${mebibytes(o.memoryBytes, 'mb')} (PBS mb = MiB, ${gb(o.memoryBytes)})`,
    }),
    directives: (o, log) => [
      `-N ${o.jobName}`,
      ...(o.queue ? [`-q ${o.queue}`] : []),
      ...(o.account ? [`-A ${o.account}`] : []),
      `-l ${o.resourceSpec ?? `select=1:ncpus=${o.cores}:mem=${DIALECTS.pbs.memory!(o).text}${o.gpus ? `:ngpus=${o.gpus}` : ''}`}`,
      `-l walltime=${o.walltime}`,
      `-o ${log}/`,
      `-e ${log}/`,
    ],
  },
  sge: {
    prefix: '#$',
    jobIdVariable: 'JOB_ID',
    directives: (o, log) => [
      `-N ${o.jobName}`,
      ...(o.queue ? [`-q ${o.queue}`] : []),
      ...(o.account ? [`-P ${o.account}`] : []),
      ...(o.resourceSpec ? [`-l ${o.resourceSpec}`] : []),
      ...(o.gpus ? [`-l gpu=${o.gpus}`] : []),
      `-l h_rt=${o.walltime}`,
      '-cwd',
      '-j y',
      `-o ${log}/`,
    ],
  },
};

/** Single-quoted for sh: nothing in it is expanded. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Double-quoted for sh: `$VAR` expands (localDirectory: '$TMPDIR'), nothing else does. */
function shExpand(s: string): string {
  return `"${s.replace(/["\\`]/g, '\\$&')}"`;
}

/** How long before walltime a job's workers hand over and leave (s): 20 %, 5 s to 2 min. */
export function walltimeMargin(walltimeSeconds: number): number {
  return Math.min(120, Math.max(5, Math.round(walltimeSeconds * 0.2)));
}

/** A worker's name: the cluster finds a worker's job by it. */
export function workerName(jobName: string, jobId: string, index: number): string {
  return `${jobName}-${jobId}-${index}`;
}

/** Which job a worker belongs to, from its name (null: not one of this cluster's jobs). */
export function jobOfWorker(jobName: string, name: string): string | null {
  if (!name.startsWith(`${jobName}-`)) return null;
  const rest = name.slice(jobName.length + 1);
  const dash = rest.lastIndexOf('-');
  return dash > 0 && /^\d+$/.test(rest.slice(dash + 1)) ? rest.slice(0, dash) : null;
}

export interface ScriptPaths {
  schedulerFile: string;
  logDirectory: string;
}

/**
 * The job script: directives, then `processes` workers started in the background (a TERM from
 * the batch system is passed on to them, so each says goodbye), then the epilogue. The keys are
 * in the scheduler file (mode 0600), never in the script or on a command line.
 */
export function renderJobScript(o: ResolvedJobOptions, paths: ScriptPaths): string {
  const d = DIALECTS[o.system];
  const skip = o.jobDirectivesSkip ?? [];
  const generated = d
    .directives(o, paths.logDirectory)
    .map((x) => `${d.prefix} ${x}`)
    .filter((line) => !skip.some((s) => line.includes(s)));
  const extra = (o.jobExtraDirectives ?? []).map((x) => `${d.prefix} ${x}`);
  const mem = d.memory?.(o);
  const lifetime = Math.max(
    1,
    o.walltimeSeconds - Math.ceil(walltimeMargin(o.walltimeSeconds) / 2),
  );
  const args = [
    '--scheduler-file',
    shQuote(paths.schedulerFile),
    '--nthreads',
    String(o.threadsPerWorker),
    '--memory-limit',
    String(o.workerMemoryBytes),
    '--death-timeout',
    String(o.deathTimeout),
    '--lifetime',
    String(lifetime),
    ...(o.interface ? ['--interface', shQuote(o.interface)] : []),
    ...(o.localDirectory ? ['--local-directory', shExpand(o.localDirectory)] : []),
    ...thresholdFlags(o.memoryThresholds),
    ...(o.workerExtraArgs ?? []).map(shQuote),
  ];
  const name = `${o.jobName}-\${${d.jobIdVariable}}`;
  return [
    o.shebang,
    '',
    ...generated,
    ...extra,
    '',
    `# ${o.processes} worker(s) of ${o.threadsPerWorker} thread(s); memory per job: ${o.memoryBytes} bytes (${gb(o.memoryBytes)})`,
    mem && generated.some((line) => line.includes(mem.text))
      ? `#   the batch system is asked for ${mem.explained}`
      : '#   no memory directive is generated (left out, or none for this system): give your own',
    `#   each worker: --memory-limit ${o.workerMemoryBytes} bytes (${gb(o.workerMemoryBytes)})`,
    `# workers retire ${walltimeMargin(o.walltimeSeconds)} s before the walltime (${o.walltime}), handing their data over`,
    ...(o.gpus
      ? [
          `# worker i runs on GPU i of the job's CUDA_VISIBLE_DEVICES (else nvidia-smi -L), its own first, offering GPU=1`,
        ]
      : []),
    ...(o.jobScriptPrologue ?? []),
    `NODE=${shQuote(o.node)}`,
    `WORKER=${shQuote(distFile('cli', 'worker.js'))}`,
    'pids=""',
    `trap 'kill -TERM $pids 2>/dev/null' TERM INT`,
    `for i in $(seq 0 ${o.processes - 1}); do`,
    `  "$NODE" "$WORKER" --name "${name}-$i"${o.gpus ? ' --gpu "$i"' : ''} ${args.join(' ')} &`,
    '  pids="$pids $!"',
    'done',
    'status=0',
    'for pid in $pids; do',
    '  wait "$pid"; code=$?',
    '  # A trapped signal cuts a wait short (code > 128) while the worker still runs: wait again.',
    '  while [ "$code" -gt 128 ] && kill -0 "$pid" 2>/dev/null; do wait "$pid"; code=$?; done',
    '  [ "$code" -eq 0 ] || status=$code',
    'done',
    ...(o.jobScriptEpilogue ?? []),
    'exit $status',
    '',
  ].join('\n');
}
