/**
 * mpiProgram (issue 21, Parsl's case): an external MPI executable as a gang task.
 *
 *   client.submitWith({ ranks: 8 }, mpiProgram('lmp', ['-in', 'in.lj']))
 *
 * It is a library-provided gang function (worker/program.ts's runProgram, imported by the workers
 * from dist/) with the program as its argument, so the scheduler and the workers treat it as any
 * other gang task: 8 worker slots reserved at once, on whose hosts the job's own launcher starts
 * the program; the future's result has gang rank 0's ProgramResult first, null for the others.
 */
import * as path from 'node:path';
import { OptionError } from '../errors';
import { distFile } from '../paths';
import { parseDuration } from '../util/duration';
import type { ProgramSpec } from '../worker/program';
import { fromModule, type ModuleFunction } from './fnspec';
import type { Duration } from './target';
import type { TaskOptions } from './task-options';

export type { ProgramResult } from '../worker/program';

const PROGRAM_REF = Symbol.for('mpi-cluster.mpiProgram');

export interface MpiProgramOptions {
  /** Variables set for the program, on top of the worker rank's environment. */
  env?: Record<string, string>;
  /** Its working directory (resolved here, so relative to the client's); default the workers'. */
  cwd?: string;
  /** Stop it after this long: ms as a number, or '90s', '5m'; the result then has timedOut. */
  timeout?: Duration;
}

/** What mpiProgram returns: submit it with submitWith({ ranks: N }, program). */
export interface MpiProgram {
  readonly [PROGRAM_REF]: true;
  readonly fn: ModuleFunction;
  readonly spec: ProgramSpec;
}

const KNOWN = new Set(['env', 'cwd', 'timeout']);

function usage(what: string): OptionError {
  return new OptionError(`mpiProgram(command, args, { env, cwd, timeout }): ${what}`);
}

/**
 * An MPI executable to run on a gang's hosts through the job's launcher (srun inside a Slurm
 * allocation, else mpirun with the gang's hosts), one MPI rank per gang member.
 */
export function mpiProgram(
  command: string,
  args: string[] = [],
  options: MpiProgramOptions = {},
): MpiProgram {
  if (typeof command !== 'string' || command.length === 0 || command.includes('\0')) {
    throw usage(
      `command must be a non-empty string (an executable on the workers' PATH, or a path), got ${JSON.stringify(command)}`,
    );
  }
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw usage(
      `args must be an array of strings (each one argument, no shell), got ${String(args)}`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw usage('options must be an object');
  }
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw usage(`unknown option "${k}"; known: ${[...KNOWN].join(', ')}`);
  }
  const spec: ProgramSpec = { command, args: [...args] };
  if (options.env !== undefined) {
    const env = options.env as unknown;
    if (typeof env !== 'object' || env === null || Array.isArray(env)) {
      throw usage('options.env must be an object of strings, such as { OMP_NUM_THREADS: "1" }');
    }
    for (const [k, v] of Object.entries(env)) {
      if (typeof v !== 'string' || k.length === 0 || /[=\0]/.test(k) || v.includes('\0')) {
        throw usage(`options.env.${k} must be a string (and the name without = or NUL)`);
      }
    }
    spec.env = { ...(env as Record<string, string>) };
  }
  if (options.cwd !== undefined) {
    if (typeof options.cwd !== 'string' || options.cwd.length === 0) {
      throw usage('options.cwd must be a directory path');
    }
    spec.cwd = path.resolve(options.cwd);
  }
  if (options.timeout !== undefined) {
    const ms = parseDuration(options.timeout, { name: 'mpiProgram options.timeout', unit: 'ms' });
    if (ms <= 0) throw usage('options.timeout must be more than 0');
    spec.timeoutMs = ms;
  }
  return {
    [PROGRAM_REF]: true,
    fn: fromModule(distFile('worker', 'program.js'), 'runProgram'),
    spec,
  };
}

export function isMpiProgram(v: unknown): v is MpiProgram {
  return (
    typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[PROGRAM_REF] === true
  );
}

/** submitWith's arguments for a program: its gang function and spec; `ranks` is required. */
export function programTask(
  options: TaskOptions,
  program: MpiProgram,
  args: unknown[],
): [TaskOptions & { ranks: number }, ModuleFunction, ProgramSpec] {
  if (options?.ranks === undefined) {
    throw new OptionError(
      `mpiProgram(${JSON.stringify(program.spec.command)}) runs on a gang of worker ranks: submit it with client.submitWith({ ranks: N }, program)`,
    );
  }
  if (args.length > 0) {
    throw new OptionError(
      'an mpiProgram takes no task arguments: give the program its arguments in mpiProgram(command, args)',
    );
  }
  return [options as TaskOptions & { ranks: number }, program.fn, program.spec];
}
