import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ClusterError } from '../errors';
import type { SystemName } from './options';

/** A job's state as this project names it, whatever the batch system calls it. */
export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled' | 'gone';

export interface BatchStatus {
  state: JobState;
  /** The batch system's own word for it (PENDING, Q, qw, ...), and why, where it says. */
  native: string;
  reason?: string;
}

/** The commands of one batch system, and how to read their answers. */
export interface BatchSystem {
  name: SystemName;
  /** Submits a script file; resolves to the job id. */
  submit(script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<string>;
  cancel(ids: string[], env: NodeJS.ProcessEnv): Promise<void>;
  /** The same, synchronously: for a process that is about to exit on a signal. */
  cancelNow(ids: string[], env: NodeJS.ProcessEnv): void;
  /** States of the given jobs; a job the system no longer knows is 'gone'. */
  status(ids: string[], env: NodeJS.ProcessEnv): Promise<Map<string, BatchStatus>>;
  /** The files a job's output goes to, given the log directory and job name. */
  outputFiles(id: string, logDirectory: string, jobName: string): string[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env, cwd, timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
        if (e && e.code === 'ENOENT') {
          resolve({ code: 127, stdout: '', stderr: `${cmd}: command not found on PATH` });
          return;
        }
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

function failed(what: string, r: Run, hint = ''): ClusterError {
  const said = (r.stderr || r.stdout).trim() || '(no output)';
  return new ClusterError('ERR_BATCH', `${what} failed (exit ${r.code}): ${said}${hint}`);
}

const PATH_HINT: Record<SystemName, string> = {
  slurm: '; is Slurm installed here (sbatch on PATH) and SLURM_CONF right?',
  pbs: "; is PBS's qsub first on PATH (SGE's has the same name) and PBS_CONF_FILE right?",
  sge: "; is SGE's qsub first on PATH (PBS's has the same name) and SGE_ROOT/SGE_CELL set?",
};

/**
 * submit, cancel and cancelNow from a system's commands: `submit` runs `submitArgs` and reads the
 * id from its output with `idOf` (null: not an id, the submission failed).
 */
function commands(
  name: SystemName,
  submitCmd: string,
  submitArgs: (script: string) => string[],
  idOf: (stdout: string) => string | null,
  cancelCmd: string,
): Pick<BatchSystem, 'name' | 'submit' | 'cancel' | 'cancelNow'> {
  return {
    name,
    async submit(script, env, cwd) {
      const r = await run(submitCmd, submitArgs(script), env, cwd);
      const id = r.code === 0 ? idOf(r.stdout.trim()) : null;
      if (id === null) throw failed(`${submitCmd} ${script}`, r, PATH_HINT[name]);
      return id;
    },
    async cancel(ids, env) {
      if (ids.length) await run(cancelCmd, ids, env);
    },
    cancelNow(ids, env) {
      if (ids.length) spawnSync(cancelCmd, ids, { env, timeout: 10_000 });
    },
  };
}

const SLURM_STATES: Record<string, JobState> = {
  PENDING: 'pending',
  CONFIGURING: 'pending',
  REQUEUED: 'pending',
  RESV_DEL_HOLD: 'pending',
  SUSPENDED: 'pending',
  RUNNING: 'running',
  COMPLETING: 'running',
  STAGE_OUT: 'running',
  COMPLETED: 'done',
  CANCELLED: 'cancelled',
};

const slurm: BatchSystem = {
  ...commands(
    'slurm',
    'sbatch',
    (script) => ['--parsable', script],
    (out) => {
      const id = out.split(';')[0];
      return /^\d+$/.test(id) ? id : null;
    },
    'scancel',
  ),
  async status(ids, env) {
    const out = new Map<string, BatchStatus>();
    if (!ids.length) return out;
    // -t all: also jobs that ended within MinJobAge; older ones are not listed (gone).
    const r = await run('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r'], env);
    if (r.code !== 0 && !/Invalid job id/i.test(r.stderr))
      throw failed('squeue', r, PATH_HINT.slurm);
    for (const line of r.stdout.split('\n')) {
      const [id, native, reason] = line.trim().split('|');
      if (!id || !native) continue;
      const state = SLURM_STATES[native] ?? 'failed';
      out.set(id, { state, native, reason: reason && reason !== 'None' ? reason : undefined });
    }
    for (const id of ids) if (!out.has(id)) out.set(id, { state: 'gone', native: 'not listed' });
    return out;
  },
  outputFiles: (id, dir, name) => [
    path.join(dir, `${name}-${id}.out`),
    path.join(dir, `${name}-${id}.err`),
  ],
};

const PBS_STATES: Record<string, JobState> = {
  Q: 'pending',
  H: 'pending',
  W: 'pending',
  T: 'pending',
  S: 'pending',
  R: 'running',
  E: 'running',
  B: 'running',
};

interface PbsJob {
  job_state?: string;
  Exit_status?: number;
  comment?: string;
}

async function pbsJobs(args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, PbsJob>> {
  const r = await run('qstat', ['-f', '-F', 'json', ...args], env);
  try {
    return (JSON.parse(r.stdout) as { Jobs?: Record<string, PbsJob> }).Jobs ?? {};
  } catch {
    if (/Unknown Job Id|Job has finished/i.test(r.stderr)) return {};
    throw failed('qstat', r, PATH_HINT.pbs);
  }
}

function pbsStatus(j: PbsJob): BatchStatus {
  const native = j.job_state!;
  if (native !== 'F' && native !== 'X') {
    return { state: PBS_STATES[native] ?? 'failed', native, reason: j.comment };
  }
  const code = j.Exit_status ?? 0;
  if (code === 0) return { state: 'done', native, reason: j.comment };
  const reason =
    code === -29 ? 'walltime exceeded' : `exit status ${code}${j.comment ? `: ${j.comment}` : ''}`;
  return { state: 'failed', native, reason };
}

const pbs: BatchSystem = {
  ...commands(
    'pbs',
    'qsub',
    (script) => [script],
    (out) => (/^\d+(\[\])?\.\S+$/.test(out) ? out : null),
    'qdel',
  ),
  /**
   * OpenPBS 23.06 prints only the first of several ids in `qstat -f -F json ID ID`: the live jobs
   * are read in one call without ids, each ended one by itself with -x (once: it stays ended).
   */
  async status(ids, env) {
    const out = new Map<string, BatchStatus>();
    if (!ids.length) return out;
    const live = await pbsJobs([], env);
    for (const id of ids) {
      const j = live[id] ?? (await pbsJobs(['-x', id], env))[id];
      out.set(id, j?.job_state ? pbsStatus(j) : { state: 'gone', native: 'not listed' });
    }
    return out;
  },
  outputFiles: (id, dir) => [path.join(dir, `${id}.OU`), path.join(dir, `${id}.ER`)],
};

/** `qstat -xml` lists the user's live jobs; ended ones are read from accounting (qacct). */
const sge: BatchSystem = {
  ...commands(
    'sge',
    'qsub',
    (script) => ['-terse', script],
    (out) => {
      const id = out.split('.')[0];
      return /^\d+$/.test(id) ? id : null;
    },
    'qdel',
  ),
  async status(ids, env) {
    const out = new Map<string, BatchStatus>();
    if (!ids.length) return out;
    const r = await run('qstat', ['-xml'], env);
    if (r.code !== 0) throw failed('qstat -xml', r, PATH_HINT.sge);
    const live = new Map<string, string>();
    for (const m of r.stdout.matchAll(/<job_list[^>]*>([\s\S]*?)<\/job_list>/g)) {
      const id = /<JB_job_number>(\d+)</.exec(m[1])?.[1];
      const native = /<state>([^<]*)</.exec(m[1])?.[1];
      if (id && native) live.set(id, native);
    }
    for (const id of ids) {
      const native = live.get(id);
      if (native !== undefined) {
        const state: JobState = native.includes('E')
          ? 'failed'
          : /[rtd]/.test(native) && !native.includes('q')
            ? 'running'
            : 'pending';
        out.set(id, {
          state,
          native,
          reason: native.includes('E') ? 'error state (qstat -j for why)' : undefined,
        });
        continue;
      }
      out.set(id, await sgeAccounting(id, env));
    }
    return out;
  },
  outputFiles: (id, dir, name) => [path.join(dir, `${name}.o${id}`)],
};

async function sgeAccounting(id: string, env: NodeJS.ProcessEnv): Promise<BatchStatus> {
  const r = await run('qacct', ['-j', id], env);
  if (r.code !== 0) return { state: 'gone', native: 'not listed' };
  const field = (k: string) => new RegExp(`^${k}\\s+(.*)$`, 'm').exec(r.stdout)?.[1]?.trim();
  const failedField = field('failed') ?? '0';
  const exit = Number((field('exit_status') ?? '0').split(' ')[0]);
  if (failedField === '0' && exit === 0) return { state: 'done', native: 'finished' };
  const reason = /h_rt/.test(failedField)
    ? 'walltime exceeded'
    : `failed ${failedField}, exit status ${field('exit_status')}`;
  return { state: 'failed', native: 'finished', reason };
}

export const SYSTEMS: Record<SystemName, BatchSystem> = { slurm, pbs, sge };

/** The last `lines` lines of a job's output files (for a job that failed before its workers). */
export function outputTail(files: string[], lines = 20): string {
  const parts: string[] = [];
  for (const f of files) {
    try {
      const text = fs.readFileSync(f, 'utf8').trimEnd();
      if (text) parts.push(`--- ${f}\n${text.split('\n').slice(-lines).join('\n')}`);
    } catch {
      // not written (yet): PBS copies output back only when the job ends
    }
  }
  return parts.join('\n') || `(no output in ${files.join(', ')})`;
}
