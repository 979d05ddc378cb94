import { InvalidArgumentError } from 'commander';
import { log } from '../log';

export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}, got "${value}"`,
      );
    }
    return n;
  };
}

export function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) {
      throw new InvalidArgumentError(`${name} must be a positive number, got "${value}"`);
    }
    return n;
  };
}

/** Prints an error with its code and what to do, then exits non-zero; never a stack for users. */
export function fail(err: unknown, exitCode = 1): never {
  const e = err as { code?: string; message?: string };
  const code = e.code ? ` [${e.code}]` : '';
  process.stderr.write(`error${code}: ${e.message ?? String(err)}\n`);
  if (process.env.MPI_CLUSTER_LOG === 'debug' && err instanceof Error) log.debug(err.stack ?? '');
  process.exit(exitCode);
}

/**
 * How long a stop after SIGINT/SIGTERM may take before the process exits anyway: our promise is
 * 5 s in every state (Slurm's KillWait, after which it sends SIGKILL and may drain the node, is
 * 30 s by default).
 */
export const SIGNAL_DEADLINE_MS = 4000;

/**
 * Runs `stop()` on SIGINT/SIGTERM so scheduler files and sockets are cleaned up, then exits 0. A
 * stop that takes longer than SIGNAL_DEADLINE_MS, or a second signal, runs `now()` (synchronous
 * clean-up, e.g. removing the scheduler file) and exits 1.
 */
export function onSignals(
  stop: (signal: string) => Promise<void>,
  now: () => void = () => {},
): void {
  let stopping = false;
  const hard = (why: string): never => {
    log.warn(why);
    try {
      now();
    } finally {
      process.exit(1);
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) hard(`${sig} again: exiting now`);
      stopping = true;
      setTimeout(
        () => hard(`stop after ${sig} took over ${SIGNAL_DEADLINE_MS / 1000} s: exiting now`),
        SIGNAL_DEADLINE_MS,
      ).unref();
      stop(sig).then(
        () => process.exit(0),
        (err: unknown) => fail(err),
      );
    });
  }
}
