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

/** Stops `stop()` on SIGINT/SIGTERM so scheduler files and sockets are cleaned up. */
export function onSignals(stop: (signal: string) => Promise<void>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void stop(sig).then(() => process.exit(0));
    });
  }
}
